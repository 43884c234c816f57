"""The plan runner: simulate order, precheck abort, live APScheduler timing, missed slots."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import time_machine

from collector.ops.checks.logscan import scan_day
from collector.ops.schedule.plan import PlannedTask, build_plan
from collector.ops.schedule.runner import LiveScheduler, PlanRunner, TaskOutcome
from shared.calendar import ET, get_session, now_et
from shared.config import load_config
from shared.ledger import Ledger, LedgerReader
from shared.storage import Layout
from tests.support.config import tmp_config

DAY = date(2026, 11, 20)


class Recorder:
    """An executor that runs nothing but remembers the order it was asked in."""

    def __init__(self, fail: set[str] | None = None, explode: set[str] | None = None) -> None:
        self.calls: list[str] = []
        self.fail = fail or set()
        self.explode = explode or set()

    async def __call__(self, item: PlannedTask) -> TaskOutcome:
        self.calls.append(item.label)
        if item.label in self.explode:
            raise RuntimeError(f"{item.label} blew up")
        return TaskOutcome(item, "failed" if item.label in self.fail else "ok", "")


def _layout(tmp_path: Path) -> Layout:
    return Layout.from_config(load_config(tmp_config(tmp_path), env={}))


async def test_simulate_runs_every_task_in_plan_order(tmp_path: Path) -> None:
    cfg = load_config(tmp_config(tmp_path), env={})
    plan = build_plan(DAY, get_session(DAY), cfg)
    rec = Recorder()
    outcomes = await PlanRunner(_layout(tmp_path), rec, grace_seconds=120).run_now(plan)
    assert rec.calls == [p.label for p in plan]
    assert all(o.status == "ok" for o in outcomes)


async def test_failed_precheck_stops_the_day(tmp_path: Path) -> None:
    cfg = load_config(tmp_config(tmp_path), env={})
    plan = build_plan(DAY, get_session(DAY), cfg)
    rec = Recorder(fail={"precheck"})
    outcomes = await PlanRunner(_layout(tmp_path), rec, grace_seconds=120).run_now(plan)
    assert rec.calls == ["precheck"]
    assert [o.status for o in outcomes] == ["failed", "skipped"]


async def test_a_crashing_task_is_logged_with_its_stack_and_the_day_goes_on(tmp_path: Path) -> None:
    layout = _layout(tmp_path)
    plan = build_plan(DAY, get_session(DAY), load_config(tmp_config(tmp_path), env={}))
    rec = Recorder(explode={"snapshot@10:00"})
    outcomes = await PlanRunner(layout, rec, grace_seconds=120).run_now(plan)
    assert [o.status for o in outcomes].count("failed") == 1 and rec.calls[-1] == "logscan"
    text = layout.errors_log(DAY).read_text()
    assert (
        "ERROR task=snapshot trade_date=2026-11-20 slot=10:00: RuntimeError: snapshot@10:00 blew up"
        in text
    )
    assert "Traceback (most recent call last)" in text
    assert scan_day(layout, DAY, ("ERROR",)).total == 1


@pytest.fixture
def scheduler_clock() -> Iterator[None]:
    """The scheduler's clock (APScheduler's and ours) runs from Friday 09:45 ET, ticking."""
    with time_machine.travel(datetime(2026, 11, 20, 9, 45, tzinfo=ET), tick=True):
        yield


def _at(now: datetime, seconds: float, task: str, slot: str | None = None) -> PlannedTask:
    return PlannedTask(now + timedelta(seconds=seconds), task, DAY, slot)


async def test_live_runs_on_time_and_records_late_slots_as_missed(
    tmp_path: Path, scheduler_clock: None
) -> None:
    layout = _layout(tmp_path)
    now = now_et()
    plan = [
        _at(now, -600, "snapshot", "09:30"),  # 10 min late, grace 120 s: missed at once
        _at(now, 0.3, "snapshot", "10:00"),
        _at(now, 0.6, "close-snapshot", "16:00"),
        _at(now, 0.6, "rollup"),
        _at(now, -3600, "enrichment"),  # late, but post-close tasks still run
    ]
    rec = Recorder()
    runner = PlanRunner(layout, rec, grace_seconds=120)
    live = LiveScheduler(runner, lambda d: plan)
    live.start()
    try:
        await live.init_day(DAY)
        assert live.pending_jobs() != []
        await asyncio.wait_for(live.idle.wait(), 10)
    finally:
        live.stop()
    assert rec.calls == ["enrichment", "snapshot@10:00", "close-snapshot@16:00", "rollup"]
    missed = [
        r for r in LedgerReader(layout.ledger).runs_for_dates([DAY]) if r["status"] == "missed"
    ]
    assert [(r["task"], r["slot"]) for r in missed] == [("snapshot", "09:30")]
    # a missed slot is lost data: logged at a level logscan counts
    assert (
        "ERROR task=snapshot trade_date=2026-11-20 slot=09:30" in layout.errors_log(DAY).read_text()
    )


async def test_an_overrunning_task_makes_the_next_slot_missed(
    tmp_path: Path, scheduler_clock: None
) -> None:
    layout = _layout(tmp_path)
    now = now_et()

    class Slow(Recorder):
        async def __call__(self, item: PlannedTask) -> TaskOutcome:
            if item.slot == "09:30":
                await asyncio.sleep(1.5)
            return await super().__call__(item)

    plan = [_at(now, 0.1, "snapshot", "09:30"), _at(now, 0.2, "snapshot", "10:00")]
    rec = Slow()
    runner = PlanRunner(layout, rec, grace_seconds=1)
    live = LiveScheduler(runner, lambda d: plan)
    live.start()
    try:
        await live.init_day(DAY)
        await asyncio.wait_for(live.idle.wait(), 10)
    finally:
        live.stop()
    assert rec.calls == ["snapshot@09:30"]
    assert [(o.item.slot, o.status) for o in runner.outcomes] == [
        ("09:30", "ok"),
        ("10:00", "missed"),
    ]


async def test_restart_skips_what_the_ledger_shows_done(
    tmp_path: Path, scheduler_clock: None
) -> None:
    layout = _layout(tmp_path)
    ledger = Ledger(layout.ledger)
    rid = ledger.start_run("snapshot", DAY, "10:00")
    ledger.finish_run(rid, "ok")
    now = now_et()
    plan = [_at(now, -30, "snapshot", "10:00"), _at(now, 0.2, "snapshot", "10:30")]
    rec = Recorder()
    live = LiveScheduler(PlanRunner(layout, rec, grace_seconds=120), lambda d: plan)
    live.start()
    try:
        await live.init_day(DAY)
        await asyncio.wait_for(live.idle.wait(), 10)
    finally:
        live.stop()
    assert rec.calls == ["snapshot@10:30"]


async def test_continuous_initialises_weekdays_at_0920_et(tmp_path: Path) -> None:
    live = LiveScheduler(PlanRunner(_layout(tmp_path), Recorder(), grace_seconds=120), lambda d: [])

    async def init() -> None:
        return None

    live.add_daily_init("09:20", init)
    trigger = live.scheduler.get_job("daily-init").trigger
    friday_evening = datetime(2026, 11, 20, 18, 0, tzinfo=ET)
    nxt = trigger.get_next_fire_time(None, friday_evening)
    assert nxt == datetime(2026, 11, 23, 9, 20, tzinfo=ET)  # Monday, skipping the weekend
    # across the DST change the init stays at 09:20 ET wall time
    before_dst = trigger.get_next_fire_time(None, datetime(2026, 3, 6, 18, 0, tzinfo=ET))
    assert before_dst.astimezone(ET).hour == 9 and before_dst.astimezone(UTC).hour == 13
