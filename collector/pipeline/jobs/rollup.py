"""`opt-data rollup`: close view (+ intraday fallback) -> clean/ib/chain/view=daily_clean.

The rule of which row wins is the pure stage collector.pipeline.rollup; this job finds the
day's files, calls it per underlying and writes through the common writer.
"""

from __future__ import annotations

from datetime import date

from collector.pipeline.errors import InputError
from collector.pipeline.rollup import rollup_table
from collector.pipeline.run import JobResult, RunContext, as_date, session_for
from collector.pipeline.store import read_table, write_chain
from shared.config import AppConfig
from shared.storage import Layout
from shared.tasks import Task
from shared.universe import Shard


def run_rollup(cfg: AppConfig, trade_date: date | str) -> JobResult:
    """close view (+ intraday fallback) -> clean/ib/chain/view=daily_clean/.../part.parquet."""
    d = as_date(trade_date)
    session_for(d)
    layout = Layout.from_config(cfg)
    symbols = set()
    for view in ("close", "intraday") if cfg.rollup.allow_intraday_fallback else ("close",):
        date_dir = layout.date_dir(view, d)
        if date_dir.is_dir():
            symbols |= {
                p.name.split("=", 1)[1] for p in date_dir.glob("underlying=*") if p.is_dir()
            }
    symbols = {s for s in symbols if Shard.from_config(cfg).holds(s)}  # other shards' roll up there
    if not symbols:
        hint = (
            "close-snapshot"
            if not cfg.rollup.allow_intraday_fallback
            else "snapshot or close-snapshot"
        )
        raise InputError(f"no raw chain data for {d}: run {hint} first")
    ctx = RunContext(cfg, Task.ROLLUP, d)
    try:
        rows, missing_close = 0, []
        strategies: dict[str, int] = {}
        for sym in sorted(symbols):
            close_dir = layout.underlying_dir("close", d, sym)
            close_files = sorted(close_dir.glob("slot=*.parquet")) if close_dir.is_dir() else []
            close = read_table(close_files[-1]) if close_files else None
            if close is None:
                missing_close.append(sym)
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
            for s in table.column("rollup_strategy").to_pylist():
                strategies[s] = strategies.get(s, 0) + 1
        fallback = sum(v for k, v in strategies.items() if k != "close")
        details = {
            "strategies": strategies,
            "missing_close": missing_close,
            "fallback_rows": fallback,
        }
        if missing_close and not cfg.rollup.allow_intraday_fallback:
            return ctx.finish(
                JobResult(
                    Task.ROLLUP,
                    "failed",
                    rows=rows,
                    total=len(symbols),
                    message=f"close view missing for {', '.join(missing_close)}: "
                    "run close-snapshot first (allow_intraday_fallback is off)",
                    details=details,
                )
            )
        status = "ok" if not missing_close else "partial"
        msg = f"{rows} daily_clean rows; strategies {strategies}"
        return ctx.finish(
            JobResult(
                Task.ROLLUP,
                status,
                rows=rows,
                total=len(symbols),
                succeeded=len(symbols) - len(missing_close),
                failed=len(missing_close),
                message=msg,
                details=details,
            )
        )
    except Exception as exc:
        return ctx.crashed(exc)
