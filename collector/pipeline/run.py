"""What every job shares: JobResult, input validation, a run's identity (Run) and its context
(ledger row + run log)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from collector.errorlog import append_error, format_error
from collector.ib import IBSession
from collector.lock import LockHeld, RunLock
from collector.pipeline.errors import InputError
from collector.pipeline.runlog import RunLog, log_unhandled
from shared import schema as S
from shared.calendar import (
    Session,
    parse_trade_date,
    require_session,
    slot_file_label,
    today_et,
    validate_slot,
)
from shared.config import AppConfig
from shared.datafs import DataPath
from shared.ledger import Ledger
from shared.schema import MarketDataType
from shared.storage import Layout
from shared.tasks import Task
from shared.universe import Shard

log = logging.getLogger(__name__)
SLOT_TASKS = (Task.SNAPSHOT, Task.CLOSE_SNAPSHOT)


@dataclass
class JobResult:
    """What a job did; status is ok, partial (some contracts missing) or failed."""

    task: str
    status: str
    run_id: str | None = None
    rows: int = 0
    total: int = 0
    succeeded: int = 0
    failed: int = 0
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def as_date(value: date | str) -> date:
    if isinstance(value, date):
        return value
    try:
        return parse_trade_date(value)
    except ValueError as exc:
        raise InputError(str(exc)) from None


def session_for(trade_date: date) -> Session:
    try:
        return require_session(trade_date)
    except ValueError as exc:
        raise InputError(str(exc)) from None


def check_slot(cfg: AppConfig, session: Session, slot: str) -> str:
    try:
        return validate_slot(
            session, slot, cfg.schedule.slot_interval_minutes, cfg.schedule.extra_slots
        )
    except ValueError as exc:
        raise InputError(str(exc)) from None


def slot_lock_name(task: str, trade_date: date, slot: str, shard: Shard | None = None) -> str:
    """The name of the flock lock (collector/lock.py) one slot run holds: one per slot and
    shard, so two shards collect the same slot side by side."""
    suffix = shard.lock_suffix if shard else ""
    return f"{task}_{trade_date.isoformat()}_{slot_file_label(slot)}{suffix}"


@dataclass(frozen=True)
class Run:
    """The identity of one slot run, built once after the input is validated and passed whole.

    Everything below the job's entry point (planning, resume, the writer, the engine's
    callbacks) asks this object rather than taking a dozen loose parameters.
    """

    cfg: AppConfig
    layout: Layout
    task: Task
    view: str
    trade_date: date
    slot: str
    market_data_type: MarketDataType

    @property
    def lock_name(self) -> str:
        return slot_lock_name(self.task, self.trade_date, self.slot, Shard.from_config(self.cfg))

    def chain_file(self, underlying: str) -> DataPath:
        return self.layout.chain_file(self.view, self.trade_date, underlying, self.slot)

    def underlying_dir(self, underlying: str) -> DataPath:
        return self.layout.underlying_dir(self.view, self.trade_date, underlying)


class RunContext:
    """Ledger run row + run log of one job; created only after the input is validated.

    A task without a slot (rollup, enrichment, history...) holds the flock
    `<task>_<date>` until it finishes; holding it proves that a row of the same task and
    date still `running` belongs to a dead process, which is then marked failed: interrupted.
    (Slot tasks do the same under their slot lock, in collector.pipeline.resume.)
    """

    def __init__(
        self, cfg: AppConfig, task: str, trade_date: date | None, slot: str | None = None
    ) -> None:
        self.cfg = cfg
        self.task = task
        self.layout = Layout.from_config(cfg)
        self.ledger = Ledger(self.layout.ledger)
        self.trade_date = trade_date
        self.slot = slot
        self.shard = Shard.from_config(cfg).label  # the ledger's runs.shard
        self.run_id = self.ledger.start_run(task, trade_date, slot, shard=self.shard)
        self.runlog = RunLog(self.layout, task, self.run_id, trade_date)
        self.runlog.event("start", trade_date=str(trade_date) if trade_date else None, slot=slot)
        self._lock: RunLock | None = None
        if slot is None:
            self._claim_task(task, trade_date)

    def _claim_task(self, task: str, trade_date: date | None) -> None:
        day = trade_date.isoformat() if trade_date else "none"
        suffix = Shard.from_config(self.cfg).lock_suffix  # each shard runs its own rollup etc.
        lock = RunLock(self.layout.run_locks(), f"{task}_{day}{suffix}", command=task)
        try:
            lock.acquire()
        except LockHeld:
            return  # another live run of the task: its `running` row is not ours to judge
        except OSError as exc:  # a read-only state dir must not hide the job's own failure
            log.warning("cannot take the %s lock: %s", task, exc)
            return
        self._lock = lock
        dead = self.ledger.mark_interrupted(task, trade_date, self.run_id, shard=self.shard)
        if dead:
            self.runlog.event("interrupted_runs", run_ids=dead)

    def finish(self, result: JobResult) -> JobResult:
        result.run_id = self.run_id
        self.ledger.finish_run(
            self.run_id,
            result.status,
            rows_written=result.rows,
            total=result.total,
            succeeded=result.succeeded,
            failed=result.failed,
            error_summary=result.message if result.status != "ok" else None,
            details=result.details,
        )
        self.runlog.event(
            "finish",
            status=result.status,
            rows=result.rows,
            total=result.total,
            succeeded=result.succeeded,
            failed=result.failed,
            message=result.message,
            details=result.details,
        )
        self._log_problem(result)
        if self._lock is not None:
            self._lock.release()
            self._lock = None
        return result

    def _log_problem(self, result: JobResult) -> None:
        """One error-log line per run that did not end ok (by hand or by the scheduler)."""
        level = problem_level(self.cfg, result)
        if level is None or result.details.get("error_logged"):
            return
        day = self.trade_date or today_et()
        text = format_error(
            self.task,
            day,
            f"{result.status}: {result.message}",
            slot=self.slot,
            run_id=self.run_id,
            ingest_id=str(result.details.get("ingest_id") or self.run_id),
            level=level,
        )
        append_error(self.layout, day, text)

    def crashed(self, exc: BaseException, ingest_id: str | None = None) -> JobResult:
        """Unhandled exception: error log with stack, ledger row failed, a failed JobResult."""
        log_unhandled(
            self.layout, self.task, ingest_id or self.run_id, exc, self.trade_date, self.slot
        )
        message = f"{type(exc).__name__}: {exc}"
        # the stack is already in the error log: one record per failure
        return self.finish(
            JobResult(self.task, "failed", message=message, details={"error_logged": True})
        )


def problem_level(cfg: AppConfig, result: JobResult) -> str | None:
    """The error-log level of a finished run: None when it is healthy.

    ERROR (counted by logscan) for a failure, slot_retry_exceeded, pacing exhaustion or
    a collection below qa.slot_coverage_min; WARNING for a partial run above it or a
    delayed-data fallback (recorded, not counted).
    """
    if result.status == "failed" or below_coverage(cfg, result):
        return "ERROR"
    d = result.details
    if S.FLAG_SLOT_RETRY_EXCEEDED in result.message or d.get("corrupt_files"):
        return "ERROR"
    if d.get("discovery_failed"):  # the day goes on for the others; this one needs a look
        return "ERROR"
    if result.status == "partial" or result.details.get("delayed_fallback"):
        return "WARNING"
    return None


def below_coverage(cfg: AppConfig, result: JobResult) -> bool:
    """A partial slot collection that got less than qa.slot_coverage_min of its contracts.

    (Rollup and enrichment have their own gates in the selfcheck: fallback ratio, OI fill.)
    """
    if result.task not in SLOT_TASKS or result.status != "partial" or not result.total:
        return False
    return result.succeeded / result.total < cfg.qa.slot_coverage_min


@asynccontextmanager
async def connected(
    cfg: AppConfig, existing: IBSession | None, **kwargs: Any
) -> AsyncIterator[IBSession]:
    """The caller's connected session, or a new connection closed on exit."""
    if existing is not None:
        yield existing
        return
    session = IBSession(cfg.ib, **kwargs)
    await session.connect()
    try:
        yield session
    finally:
        session.close()
