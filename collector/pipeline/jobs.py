"""The pipeline's job API: async functions the CLI and the scheduler call.

Each job validates its input first (InputError, nothing written), opens its own IB
connection through collector.ib unless given a connected `session`, writes data, the
ledger and its run log, and returns a JobResult.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from collector.ib import IBSession
from collector.pipeline.common import JobResult
from collector.pipeline.enrich_job import run_enrichment_job
from collector.pipeline.history_job import run_history_job
from collector.pipeline.rollup_job import run_rollup_job
from collector.pipeline.snapshot_job import run_snapshot_job
from collector.pipeline.snapshot_plan import SnapshotOverrides, precheck
from collector.pipeline.universe import UniverseEntry
from collector.pipeline.universe import resolve_symbols as _resolve_symbols
from shared.config import AppConfig

__all__ = [
    "JobResult",
    "SnapshotOverrides",
    "precheck_contract_cache",
    "resolve_symbols",
    "run_close_snapshot",
    "run_enrichment",
    "run_history",
    "run_rollup",
    "run_snapshot",
]


def resolve_symbols(
    cfg: AppConfig, symbols_arg: str | list[str] | None, view: str = "intraday"
) -> list[str]:
    """Symbols of the view's universe file, or the named subset (InputError when bad/empty)."""
    return [e.symbol for e in _resolve_symbols(cfg, symbols_arg, view)]


def resolve_entries(
    cfg: AppConfig, symbols_arg: str | list[str] | None, view: str = "intraday"
) -> list[UniverseEntry]:
    return _resolve_symbols(cfg, symbols_arg, view)


async def run_snapshot(
    cfg: AppConfig,
    trade_date: date | str,
    slot: str,
    symbols: str | list[str] | None = None,
    *,
    view: str = "intraday",
    overrides: SnapshotOverrides | dict[str, Any] | None = None,
    progress: bool = True,
    session: IBSession | None = None,
) -> JobResult:
    """One slot of streaming snapshots -> raw/ib/chain/view=<view>/.../slot=HHMM.parquet."""
    return await run_snapshot_job(
        cfg,
        trade_date,
        slot,
        symbols,
        view=view,
        overrides=overrides,
        progress=progress,
        session=session,
    )


async def run_close_snapshot(
    cfg: AppConfig,
    trade_date: date | str,
    symbols: str | list[str] | None = None,
    *,
    fail_on_missing_cache: bool = False,
    session: IBSession | None = None,
    overrides: SnapshotOverrides | dict[str, Any] | None = None,
    progress: bool = True,
) -> JobResult:
    """view=close at the session's real last slot, market data type 2, cache precheck first."""
    return await run_snapshot_job(
        cfg,
        trade_date,
        None,
        symbols,
        view="close",
        overrides=overrides,
        progress=progress,
        session=session,
        fail_on_missing_cache=fail_on_missing_cache,
    )


async def precheck_contract_cache(
    cfg: AppConfig,
    trade_date: date | str,
    symbols: str | list[str] | None,
    *,
    rebuild: bool = True,
    session: IBSession | None = None,
) -> dict[str, str]:
    """Status per symbol ('ok' or 'rebuilt (...)'); CacheMissing / JobFailed when it cannot be fixed."""
    return await precheck(cfg, trade_date, symbols, rebuild=rebuild, session=session)


def run_rollup(cfg: AppConfig, trade_date: date | str) -> JobResult:
    """close view (+ intraday fallback) -> clean/ib/chain/view=daily_clean/.../part.parquet."""
    return run_rollup_job(cfg, trade_date)


async def run_enrichment(
    cfg: AppConfig,
    trade_date: date | str,
    fields: tuple[str, ...] | list[str] = ("open_interest",),
    *,
    session: IBSession | None = None,
) -> JobResult:
    """Next session day: open_interest + oi_asof_date into daily_clean by (trade_date, conid)."""
    return await run_enrichment_job(cfg, trade_date, fields, session=session)


async def run_history(
    cfg: AppConfig,
    symbols: str | list[str] | None,
    days: int,
    *,
    force_refresh: bool = False,
    session: IBSession | None = None,
) -> JobResult:
    """Daily bars from 8-hour bars -> clean/ib/history/bar=1d/underlying=SYM/part.parquet."""
    return await run_history_job(cfg, symbols, days, force_refresh=force_refresh, session=session)
