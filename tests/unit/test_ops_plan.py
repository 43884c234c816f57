"""The schedule plan against known calendar answers: normal day, half day, holiday, DST."""

from __future__ import annotations

import logging
import sys
from datetime import UTC, date, datetime

import pytest

from collector.ops.schedule import plan as plan_mod
from collector.ops.schedule.plan import build_plan, plan_groups
from shared import calendar
from shared.calendar import ET, get_session
from shared.config import AppConfig, ScheduleConfig, StorageConfig
from shared.tasks import Task


def _cfg(**schedule: object) -> AppConfig:
    return AppConfig(schedule=ScheduleConfig(**schedule))  # type: ignore[arg-type]


def _plan(day: date, cfg: AppConfig | None = None) -> list[plan_mod.PlannedTask]:
    return build_plan(day, get_session(day), cfg or _cfg())


def _snapshot_slots(plan: list[plan_mod.PlannedTask]) -> list[str]:
    return [p.slot or "" for p in plan if p.task == Task.SNAPSHOT]


def test_normal_day_has_14_slots_then_close_chain_and_next_day_enrichment() -> None:
    plan = _plan(date(2026, 11, 20))  # a Friday
    slots = _snapshot_slots(plan)
    assert slots[0] == "09:30" and slots[-1] == "16:00" and len(slots) == 14
    tasks = [p.task for p in plan]
    assert tasks[0] == "precheck" and plan[0].when == datetime(2026, 11, 20, 9, 25, tzinfo=ET)
    assert tasks[-7:] == [
        "close-snapshot", "rollup", "qa", "logscan", "enrichment", "selfcheck", "logscan",
    ]  # fmt: skip
    evening_scan = plan[-4]  # the runbook's 17:30 logscan, told apart from 04:30's by its label
    assert evening_scan.label == "logscan@17:30" and evening_scan.when == plan[-5].when
    close = plan[tasks.index("close-snapshot")]
    assert close.when == datetime(2026, 11, 20, 17, 30, tzinfo=ET) and close.slot == "16:00"
    enrichment = plan[tasks.index("enrichment")]
    # next session after Friday is Monday 2026-11-23; OI is as of the Friday trade date
    assert enrichment.when == datetime(2026, 11, 23, 4, 30, tzinfo=ET)
    assert enrichment.trade_date == date(2026, 11, 20)
    assert [p.when for p in plan] == sorted(p.when for p in plan)


def test_half_day_last_slot_is_the_real_close() -> None:
    plan = _plan(date(2026, 11, 27))  # day after Thanksgiving, 13:00 close
    slots = _snapshot_slots(plan)
    assert slots[-1] == "13:00" and len(slots) == 8
    close = next(p for p in plan if p.task == "close-snapshot")
    assert close.slot == "13:00"


def test_holiday_schedules_nothing() -> None:
    assert get_session(date(2026, 11, 26)) is None  # Thanksgiving
    assert _plan(date(2026, 11, 26)) == []


def test_thanksgiving_eve_enrichment_skips_the_holiday() -> None:
    plan = _plan(date(2026, 11, 25))
    enrichment = next(p for p in plan if p.task == "enrichment")
    assert enrichment.when.date() == date(2026, 11, 27)


@pytest.mark.parametrize(
    ("friday", "monday", "friday_open_utc", "monday_enrich_utc"),
    [
        # DST starts Sunday 2026-03-08: Friday in EST (UTC-5), Monday in EDT (UTC-4)
        (date(2026, 3, 6), date(2026, 3, 9), 14, 8),
        # DST ends Sunday 2026-11-01: Friday in EDT, Monday in EST
        (date(2026, 10, 30), date(2026, 11, 2), 13, 9),
    ],
)
def test_dst_keeps_et_wall_times(
    friday: date, monday: date, friday_open_utc: int, monday_enrich_utc: int
) -> None:
    plan = _plan(friday)
    first_slot = next(p for p in plan if p.task == "snapshot")
    assert first_slot.when.astimezone(ET).hour == 9 and first_slot.when.astimezone(ET).minute == 30
    assert first_slot.when.astimezone(UTC).hour == friday_open_utc
    enrichment = next(p for p in plan if p.task == "enrichment")
    assert enrichment.when.astimezone(ET).date() == monday
    assert (enrichment.when.astimezone(ET).hour, enrichment.when.astimezone(ET).minute) == (4, 30)
    assert enrichment.when.astimezone(UTC).hour == monday_enrich_utc
    monday_slots = [
        p.when.astimezone(ET).strftime("%H:%M") for p in _plan(monday) if p.task == "snapshot"
    ]
    assert monday_slots == _snapshot_slots(plan)


def test_extra_slots_inside_the_session_only() -> None:
    cfg = _cfg(extra_slots=("15:45", "18:00"))
    slots = _snapshot_slots(_plan(date(2026, 11, 20), cfg))
    assert "15:45" in slots and "18:00" not in slots and len(slots) == 15
    half = _snapshot_slots(_plan(date(2026, 11, 27), cfg))
    assert "15:45" not in half


def test_fail_on_missing_cache_reaches_precheck_and_close_snapshot() -> None:
    day = date(2026, 11, 20)
    plan = build_plan(day, get_session(day), _cfg(), symbols=("AAPL",), fail_on_missing_cache=True)
    assert plan[0].args == {"symbols": ("AAPL",), "rebuild": False}
    close = next(p for p in plan if p.task == "close-snapshot")
    assert close.args["fail_on_missing_cache"] is True


def test_groups_chain_post_close_tasks_but_keep_slots_apart() -> None:
    groups = plan_groups(_plan(date(2026, 11, 20)))
    names = [[p.task for p in g] for g in groups]
    assert names[1] == ["snapshot"] and names[2] == ["snapshot"]
    assert ["close-snapshot", "rollup", "qa", "logscan"] in names
    assert ["enrichment", "selfcheck", "logscan"] in names


def test_without_calendar_package_fixed_session_and_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "pandas_market_calendars", None)  # import raises ImportError
    calendar._xnys.cache_clear()
    calendar._sessions_in_year.cache_clear()
    try:
        with caplog.at_level(logging.WARNING):
            session = get_session(date(2026, 11, 27))
        assert (
            session is not None
            and session.early_close is False
            and session.source == "fixed_fallback"
        )
        assert "early_close=False" in caplog.text
        slots = _snapshot_slots(build_plan(date(2026, 11, 27), session, _cfg()))
        assert slots[-1] == "16:00" and len(slots) == 14
    finally:
        calendar._xnys.cache_clear()
        calendar._sessions_in_year.cache_clear()


def test_daily_compaction_runs_right_after_the_rollup_when_enabled() -> None:
    day = date(2026, 11, 20)
    assert Task.COMPACT not in [p.task for p in _plan(day)]
    cfg = AppConfig(storage=StorageConfig(daily_compaction_enabled=True))
    tasks = [p.task for p in _plan(day, cfg)]
    assert tasks[tasks.index("rollup") + 1 : tasks.index("rollup") + 3] == ["compact", "qa"]
