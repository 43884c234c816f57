"""`opt-data rollup`: close view (+ intraday fallback) -> clean/ib/chain/view=daily_clean.

The rule of which row wins is the pure stage collector.pipeline.rollup. This job makes
one vectorised pass over every underlying of the day (collector/pipeline/rollup_inputs.py
reads only the intraday files the bad close rows need, and moves aside a corrupt file
when a read meets it), writes the files as one atomic batch (encoded in parallel, all
replaced or none) and records every ledger row in one transaction.
"""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pyarrow.compute as pc

from collector.pipeline.errors import InputError
from collector.pipeline.rollup_inputs import list_day, rollup_day
from collector.pipeline.rows import fill_stats_by_underlying
from collector.pipeline.run import JobResult, RunContext, as_date, session_for
from collector.pipeline.store import Quarantined, report_corrupt, write_chains
from shared import datafs
from shared.config import AppConfig
from shared.ledger import LedgerReader
from shared.storage import Layout
from shared.tasks import Task
from shared.universe import Shard


def day_symbols(layout: Layout, d: date, views: tuple[str, ...]) -> set[str]:
    symbols: set[str] = set()
    for view in views:
        names = datafs.names(layout.date_dir(view, d), "underlying=", dirs=True)
        symbols |= {n.split("=", 1)[1] for n in names}
    return symbols


def by_underlying(table: pa.Table) -> list[tuple[str, pa.Table]]:
    """Zero-copy slices of a table sorted by underlying."""
    if table.num_rows == 0:
        return []
    runs = pc.run_end_encode(table.column("underlying")).combine_chunks()
    ends = runs.run_ends.to_pylist()
    names = runs.values.to_pylist()
    out, start = [], 0
    for name, end in zip(names, ends, strict=True):
        out.append((str(name), table.slice(start, end - start)))
        start = end
    return out


def run_rollup(cfg: AppConfig, trade_date: date | str) -> JobResult:
    """close view (+ intraday fallback) -> clean/ib/chain/view=daily_clean/.../part.parquet."""
    d = as_date(trade_date)
    session_for(d)
    layout = Layout.from_config(cfg)
    allow = cfg.rollup.allow_intraday_fallback
    symbols = day_symbols(layout, d, ("close", "intraday") if allow else ("close",))
    symbols = {s for s in symbols if Shard.from_config(cfg).holds(s)}  # others' roll up there
    if not symbols:
        hint = "close-snapshot" if not allow else "snapshot or close-snapshot"
        raise InputError(f"no raw chain data for {d}: run {hint} first")
    ctx = RunContext(cfg, Task.ROLLUP, d)
    try:
        files = list_day(layout, d, sorted(symbols), with_intraday=allow)
        recorded = {
            str(r["path"]): int(r["rows"])
            for r in LedgerReader(layout.ledger).partitions_for_date(d, "intraday")
        }
        result = rollup_day(
            files,
            allow_intraday_fallback=allow,
            fallback_slot=cfg.rollup.fallback_slot,
            recorded_rows=recorded,
        )
        # a corrupt input file is a finding (moved aside when read, one error-log line)
        corrupt = result.corrupt
        report_corrupt(layout, Task.ROLLUP, d, corrupt, run_id=ctx.run_id)

        # every file or none replaced, one disk flush, one ledger transaction
        write_chains(cfg, layout, ctx.ledger, "daily_clean", d, dict(by_underlying(result.table)),
                     ctx.run_id, stats=fill_stats_by_underlying(result.table))  # fmt: skip
        counts = pc.value_counts(result.table.column("rollup_strategy")).to_pylist()
        strategies = {str(c["values"]): int(c["counts"]) for c in counts}
        return ctx.finish(_result(result.table.num_rows, symbols, result.missing_close,
                                  strategies, allow, corrupt, result.kept))  # fmt: skip
    except Exception as exc:
        return ctx.crashed(exc)


def _result(
    rows: int,
    symbols: set[str],
    missing_close: list[str],
    strategies: dict[str, int],
    allow: bool,
    corrupt: list[Quarantined],
    kept: list[str] | None = None,
) -> JobResult:
    fallback = sum(v for k, v in strategies.items() if k != "close")
    kept = kept or []
    details = {
        "strategies": strategies,
        "missing_close": missing_close,
        "fallback_rows": fallback,
        "corrupt_files": [q.line() for q in corrupt],
        "kept_previous": kept,
    }
    found = "".join(f"; {q.line()}" for q in corrupt)
    if kept:
        found += (
            f"; daily_clean kept as it was for {', '.join(kept)} "
            "(built from raw files that are gone now)"
        )
    if missing_close and not allow:
        return JobResult(
            Task.ROLLUP,
            "failed",
            rows=rows,
            total=len(symbols),
            message=f"close view missing for {', '.join(missing_close)}: "
            "run close-snapshot first (allow_intraday_fallback is off)",
            details=details,
        )
    return JobResult(
        Task.ROLLUP,
        "ok" if not missing_close and not corrupt else "partial",
        rows=rows,
        total=len(symbols),
        succeeded=len(symbols) - len(missing_close),
        failed=len(missing_close),
        message=f"{rows} daily_clean rows; strategies {strategies}{found}",
        details=details,
    )
