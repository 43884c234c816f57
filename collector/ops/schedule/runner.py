"""Run a plan: `simulate` (every task now, in order) or `live` (APScheduler date triggers).

Tasks run one at a time (one IB connection budget). A snapshot slot that cannot start within
acquisition.slot_grace_seconds of its ET time - the process started late, the previous task
overran, APScheduler reported a misfire - is recorded in the ledger as missed. Post-close
tasks run late rather than never. A failed precheck stops the day (the runbook's rule: no
half day on a broken contract cache).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from apscheduler.events import EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from collector.errorlog import append_error, format_error
from collector.ops.alerts import Event
from collector.ops.schedule.plan import DEADLINE_TASKS, PlannedTask, plan_groups
from shared.calendar import ET
from shared.ledger import Ledger, LedgerReader
from shared.storage import Layout
from shared.tasks import Task

log = logging.getLogger(__name__)
DONE_STATUSES = ("ok", "partial")
# Checks that write their own report: echoing their verdict into the error log would make
# the next logscan count the previous scan.
SELF_REPORTING = frozenset({Task.SELFCHECK, Task.LOGSCAN})


@dataclass(frozen=True)
class TaskOutcome:
    item: PlannedTask
    status: str  # ok | partial | failed | missed | skipped
    message: str = ""
    rows: int = 0
    run_id: str | None = None
    logged: bool = False  # the job wrote its own error-log line (pipeline jobs do)

    @property
    def failed(self) -> bool:
        return self.status in ("failed", "missed")


Executor = Callable[[PlannedTask], Awaitable[TaskOutcome]]
Listener = Callable[[str, PlannedTask, TaskOutcome | None], None]  # event: start | done
Alert = Callable[[Event, str, str], object]  # (event, title, body), e.g. alerts.notify bound
# The alert of a failed check task; other failures are task_failed, missed slots slot_missed.
TASK_EVENTS = {
    Task.PRECHECK: Event.PRECHECK_FAILED,
    Task.SELFCHECK: Event.SELFCHECK_FAIL,
    Task.LOGSCAN: Event.LOGSCAN_BREACH,
}


def _now() -> datetime:
    return datetime.now(UTC)


class PlanRunner:
    """Executes planned tasks through `execute`, keeps the ledger and error log honest."""

    def __init__(
        self,
        layout: Layout,
        execute: Executor,
        *,
        grace_seconds: int,
        listener: Listener | None = None,
        clock: Callable[[], datetime] = _now,
        shard: str = "",
        alert: Alert | None = None,
    ) -> None:
        self.layout = layout
        self.shard = shard  # the ledger's runs.shard: what this scheduler records and resumes
        self.execute = execute
        self.grace = timedelta(seconds=grace_seconds)
        self.listener = listener or (lambda *_: None)
        self.clock = clock
        self.alert = alert or (lambda *_: None)
        self.ledger = Ledger(layout.ledger)
        self.outcomes: list[TaskOutcome] = []
        self._one_at_a_time = asyncio.Lock()
        self.aborted_dates: set[date] = set()

    # --- single task --------------------------------------------------------------------
    async def run_task(self, item: PlannedTask, *, enforce_deadline: bool) -> TaskOutcome:
        async with self._one_at_a_time:
            if item.trade_date in self.aborted_dates:
                return self._record(
                    TaskOutcome(item, "skipped", "precheck failed for this trade date")
                )
            late = self.clock() - item.when
            if enforce_deadline and item.task in DEADLINE_TASKS and late > self.grace:
                grace = int(self.grace.total_seconds())
                reason = f"started {int(late.total_seconds())} s late (grace {grace} s)"
                return self.mark_missed(item, reason)
            self.listener("start", item, None)
            try:
                outcome = await self.execute(item)
            except Exception as exc:  # a task must never take the scheduler down
                log.exception("task %s failed", item.label)
                outcome = TaskOutcome(item, "failed", f"{type(exc).__name__}: {exc}")
                append_error(
                    self.layout,
                    item.trade_date,
                    format_error(
                        item.task, item.trade_date, outcome.message, slot=item.slot, exc=exc
                    ),
                )
            else:
                if (
                    outcome.status == "failed"
                    and item.task not in SELF_REPORTING
                    and not outcome.logged
                ):
                    text = format_error(
                        item.task,
                        item.trade_date,
                        outcome.message or "failed",
                        slot=item.slot,
                        run_id=outcome.run_id,
                    )
                    append_error(self.layout, item.trade_date, text)
            if item.task == Task.PRECHECK and outcome.status == "failed":
                self.aborted_dates.add(item.trade_date)
            return self._record(outcome)

    def mark_missed(self, item: PlannedTask, reason: str) -> TaskOutcome:
        run_id = self.ledger.record_missed(
            item.task, item.trade_date, item.slot, reason, shard=self.shard
        )
        append_error(
            self.layout,
            item.trade_date,
            format_error(
                item.task,
                item.trade_date,
                f"missed: {reason}",
                slot=item.slot,
                run_id=run_id,
                level="ERROR",  # a missed slot is lost data: logscan must count it
            ),
        )
        return self._record(TaskOutcome(item, "missed", reason, run_id=run_id))

    def _record(self, outcome: TaskOutcome) -> TaskOutcome:
        # pipeline jobs alert for themselves (they know the details); here the rest
        if outcome.status in ("failed", "missed") and not outcome.logged:
            item = outcome.item
            event = (
                Event.SLOT_MISSED
                if outcome.status == "missed"
                else TASK_EVENTS.get(Task(item.task), Event.TASK_FAILED)
            )
            where = " ".join(x for x in (item.task, str(item.trade_date), item.slot or "") if x)
            self.alert(event, where, f"{where}: {outcome.status} - {outcome.message}")
        self.outcomes.append(outcome)
        self.listener("done", outcome.item, outcome)
        return outcome

    # --- simulate -----------------------------------------------------------------------
    async def run_now(
        self, plan: list[PlannedTask], before_task: Callable[[PlannedTask], Any] | None = None
    ) -> list[TaskOutcome]:
        """Every task at once, in plan order (no deadlines): `schedule --simulate`, the demo."""
        results = []
        for item in plan:
            if before_task is not None:
                await _maybe_await(before_task(item))
            outcome = await self.run_task(item, enforce_deadline=False)
            results.append(outcome)
            if outcome.status == "skipped":
                break
        return results

    # --- bookkeeping for restarts --------------------------------------------------------
    def already_done(self, item: PlannedTask) -> bool:
        """True when the ledger shows this task (and slot) finished ok for its trade date,
        run by this scheduler's shard."""
        runs = LedgerReader(self.layout.ledger).runs_for_dates([item.trade_date])
        return any(
            r["task"] == item.task
            and r["shard"] == self.shard
            and (r["slot"] or None) == item.slot
            and r["status"] in DONE_STATUSES
            for r in runs
        )


async def _maybe_await(value: Any) -> None:
    if asyncio.iscoroutine(value):
        await value


class LiveScheduler:
    """APScheduler (AsyncIOScheduler, ET) around a PlanRunner: one job per chain of tasks."""

    def __init__(self, runner: PlanRunner, make_plan: Callable[[date], list[PlannedTask]]) -> None:
        self.runner = runner
        self.make_plan = make_plan
        self.scheduler = AsyncIOScheduler(timezone=ET)
        self.scheduler.add_listener(self._on_missed, EVENT_JOB_MISSED)
        self._groups: dict[str, list[PlannedTask]] = {}
        self._active = 0
        self.idle = asyncio.Event()
        self.initialized: list[date] = []

    def _on_missed(self, event: JobExecutionEvent) -> None:
        group = self._groups.pop(event.job_id, None)
        if group:
            for item in group:
                self.runner.mark_missed(item, f"scheduler misfire at {event.scheduled_run_time}")
        self._check_idle()

    async def _run_group(self, job_id: str) -> None:
        group = self._groups.get(job_id, [])
        self._active += 1
        try:
            for item in group:
                await self.runner.run_task(item, enforce_deadline=True)
        finally:
            self._groups.pop(job_id, None)
            self._active -= 1
            self._check_idle()

    def _check_idle(self) -> None:
        if not self._groups and self._active == 0:
            self.idle.set()

    async def init_day(
        self, trade_date: date, *, only: tuple[str, ...] | None = None
    ) -> list[PlannedTask]:
        """Plan a trade date, run its precheck now, schedule the rest (skipping what is done)."""
        plan = [p for p in self.make_plan(trade_date) if only is None or p.task in only]
        if trade_date not in self.initialized:
            self.initialized.append(trade_date)
        now = self.runner.clock()
        late: list[PlannedTask] = []  # due already: one chain, so they keep the plan's order
        for group in plan_groups(plan):
            pending = [p for p in group if not self.runner.already_done(p)]
            if not pending:
                continue
            first = pending[0]
            if first.task == Task.PRECHECK:
                await self.runner.run_task(first, enforce_deadline=False)
                continue
            if trade_date in self.runner.aborted_dates:
                # the precheck failed: nothing of the day can run, so nothing is scheduled
                # (an --exit-when-idle run then exits 1 now instead of waiting for 04:30)
                for item in pending:
                    await self.runner.run_task(item, enforce_deadline=False)
                continue
            deadline = first.task in DEADLINE_TASKS
            if deadline and now - first.when > self.runner.grace:
                for item in pending:
                    self.runner.mark_missed(item, "scheduler started after the slot's grace period")
            elif first.when <= now:
                late.extend(pending)
            else:
                self._add_job(f"{trade_date}:{first.label}", pending, first.when, deadline)
        if late:
            self._add_job(f"{trade_date}:late:{late[0].label}", late, now, deadline=False)
        self._check_idle()
        return plan

    def _add_job(
        self, job_id: str, chain: list[PlannedTask], when: datetime, deadline: bool
    ) -> None:
        self._groups[job_id] = chain
        self.idle.clear()
        self.scheduler.add_job(
            self._run_group,
            "date",
            run_date=when.astimezone(ET),
            args=[job_id],
            id=job_id,
            replace_existing=True,
            # slots expire with the grace; a post-close chain runs however late it gets
            misfire_grace_time=int(self.runner.grace.total_seconds()) if deadline else None,
        )

    def add_daily_init(self, init_time: str, callback: Callable[[], Awaitable[None]]) -> None:
        hh, mm = (int(x) for x in init_time.split(":"))
        self.scheduler.add_job(
            callback,
            "cron",
            day_of_week="mon-fri",
            hour=hh,
            minute=mm,
            id="daily-init",
            misfire_grace_time=3600,
            coalesce=True,
            replace_existing=True,
        )

    def pending_jobs(self) -> list[str]:
        return sorted(self._groups)

    def start(self) -> None:
        self.scheduler.start()

    def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
