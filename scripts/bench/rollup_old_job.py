"""The rollup job's loop as it stood before (bench reference only, never the collector's).

Per underlying: read the close file, every intraday slot file and the previous
daily_clean one by one, roll up row by row (scripts/bench/rollup_reference.py), then
write the file and commit its ledger row. Files and ledger go through today's writer.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from collector.pipeline.run import RunContext
from collector.pipeline.store import read_table, write_chain
from scripts.bench.rollup_reference import rollup_table
from shared.config import AppConfig
from shared.storage import Layout
from shared.tasks import Task


def run(cfg: AppConfig, d: date) -> dict[str, Any]:
    layout = Layout.from_config(cfg)
    symbols: set[str] = set()
    for view in ("close", "intraday") if cfg.rollup.allow_intraday_fallback else ("close",):
        date_dir = layout.date_dir(view, d)
        if date_dir.is_dir():
            symbols |= {
                p.name.split("=", 1)[1] for p in date_dir.glob("underlying=*") if p.is_dir()
            }
    ctx = RunContext(cfg, Task.ROLLUP, d)
    rows = 0
    for sym in sorted(symbols):
        close_dir = layout.underlying_dir("close", d, sym)
        close_files = sorted(close_dir.glob("slot=*.parquet")) if close_dir.is_dir() else []
        close = read_table(close_files[-1]) if close_files else None
        intraday_dir = layout.underlying_dir("intraday", d, sym)
        intraday = (
            [
                t
                for f in sorted(intraday_dir.glob("slot=*.parquet"))
                if (t := read_table(f)) is not None
            ]
            if intraday_dir.is_dir()
            else []
        )
        previous = read_table(layout.chain_file("daily_clean", d, sym))
        table = rollup_table(
            close,
            intraday,
            allow_intraday_fallback=cfg.rollup.allow_intraday_fallback,
            fallback_slot=cfg.rollup.fallback_slot,
            previous=previous,
        )
        if table.num_rows == 0:
            continue
        write_chain(cfg, layout, ctx.ledger, "daily_clean", d, sym, None, table, ctx.run_id)
        rows += table.num_rows
    return {"status": "ok", "rows": rows}
