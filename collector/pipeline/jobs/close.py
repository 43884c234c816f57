"""`opt-data close-snapshot`: view=close at the session's real last slot, frozen data (type 2).

The close snapshot is a snapshot run with another view: same engine, resume and writer.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from collector.ib import IBSession
from collector.pipeline.jobs.snapshot import run_snapshot
from collector.pipeline.run import JobResult
from collector.pipeline.snapshot_plan import SnapshotOverrides
from shared.config import AppConfig


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
    return await run_snapshot(
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
