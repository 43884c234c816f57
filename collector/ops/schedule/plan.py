"""The day's schedule as data: (trade date, session, config) -> ordered tasks at ET wall times.

Pure: no clock, no I/O. The runner decides what "now" means (simulate: everything at once;
live: APScheduler date triggers). Every instant is built with zoneinfo America/New_York from
the calendar's session, so DST changes never move a slot off its ET wall time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from shared.calendar import ET, Session, next_session, parse_slot, slot_datetime
from shared.config import AppConfig
from shared.tasks import Task

# Only market-data slots have a deadline: a slot taken late is a different sample. The
# post-close tasks are still worth running late, so they never count as missed.
DEADLINE_TASKS = frozenset({Task.SNAPSHOT})


@dataclass(frozen=True)
class PlannedTask:
    when: datetime  # tz-aware, America/New_York
    task: str
    trade_date: date
    slot: str | None = None
    args: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def label(self) -> str:
        return f"{self.task}@{self.slot}" if self.slot else self.task

    def describe(self) -> str:
        when = self.when.astimezone(ET)
        extra = f" slot={self.slot}" if self.slot else ""
        return f"{when:%Y-%m-%d %H:%M %Z}  {self.task:<15}{extra}  (trade_date {self.trade_date})"


def _at(day: date, hhmm: str) -> datetime:
    return datetime.combine(day, parse_slot(hhmm), ET)


def build_plan(
    trade_date: date,
    session: Session | None,
    cfg: AppConfig,
    *,
    symbols: tuple[str, ...] | None = None,
    fail_on_missing_cache: bool = False,
    enrichment_session: Session | None = None,
) -> list[PlannedTask]:
    """Every task of one trade date in run order; empty when XNYS has no session that day.

    `enrichment_session` is the next session (computed from the calendar when omitted):
    enrichment runs at schedule.enrichment_time on that day, reading OI as of `trade_date`.
    """
    if session is None:
        return []
    sched = cfg.schedule
    common: dict[str, Any] = {"symbols": symbols}
    plan: list[PlannedTask] = [
        PlannedTask(
            min(_at(trade_date, cfg.discovery.pre_open_time), session.open),
            Task.PRECHECK,
            trade_date,
            args={**common, "rebuild": not fail_on_missing_cache},
        )
    ]
    for label in session.slots(sched.slot_interval_minutes, sched.extra_slots):
        plan.append(
            PlannedTask(
                slot_datetime(trade_date, label), Task.SNAPSHOT, trade_date, label, dict(common)
            )
        )
    close_at = max(_at(trade_date, sched.close_snapshot_time), session.close)
    plan.append(
        PlannedTask(
            close_at,
            Task.CLOSE_SNAPSHOT,
            trade_date,
            session.last_slot(sched.slot_interval_minutes),
            {**common, "fail_on_missing_cache": fail_on_missing_cache},
        )
    )
    plan.append(PlannedTask(close_at, Task.ROLLUP, trade_date))
    if cfg.storage.daily_compaction_enabled:
        plan.append(PlannedTask(close_at, Task.COMPACT, trade_date))
    plan.append(PlannedTask(close_at, Task.QA, trade_date, args=dict(common)))
    # the runbook's evening scan: the day's errors are seen the same evening, not at 04:30
    # (labelled by its time, so a restart tells it apart from the 04:30 scan)
    plan.append(PlannedTask(close_at, Task.LOGSCAN, trade_date, f"{close_at:%H:%M}"))
    nxt = enrichment_session or next_session(trade_date)
    enrich_at = _at(nxt.trade_date, sched.enrichment_time)
    plan.append(
        PlannedTask(enrich_at, Task.ENRICHMENT, trade_date, args={"fields": cfg.enrichment.fields})
    )
    plan.append(PlannedTask(enrich_at, Task.SELFCHECK, trade_date, args=dict(common)))
    plan.append(PlannedTask(enrich_at, Task.LOGSCAN, trade_date))
    return plan


def plan_groups(plan: list[PlannedTask]) -> list[list[PlannedTask]]:
    """Consecutive tasks sharing one instant form a chain that runs in order as one job."""
    groups: list[list[PlannedTask]] = []
    for item in plan:
        if (
            groups
            and groups[-1][0].when == item.when
            and item.task != Task.SNAPSHOT
            and groups[-1][0].task != Task.SNAPSHOT
        ):
            groups[-1].append(item)
        else:
            groups.append([item])
    return groups


def format_plan(plan: list[PlannedTask]) -> str:
    return "\n".join(item.describe() for item in plan)
