"""The date-sensitive paths under frozen "todays": the product must behave on any day.

Each instant is here for a reason the calendar makes awkward:
- 2026-11-30 08:00 ET: the Monday after the Thanksgiving half day (Friday closed 13:00),
  before the open - the latest session is a short one.
- 2026-12-24 14:00 ET: Christmas Eve, a half day, an hour after its 13:00 close.
- 2027-07-06 06:00 ET: the Tuesday after July 4 (a Sunday, observed Monday July 5), before
  the open - the previous session is three calendar days back.
- 2026-11-28 12:00 ET: a Saturday.
- 2026-03-08 12:00 ET and 2026-11-01 12:00 ET: the DST Sundays (spring forward, fall back).
- 2026-11-18 06:00 ET: a plain Wednesday before the open.
- 2026-11-18 15:10 ET: a plain Wednesday mid-session (slots still to come).

For each, a synthetic store is built to end at the latest closed session (what a healthy
collector would hold), and health, partition issues, chain change, compaction, the demo's
choice of day and the scheduler's plan must agree with the calendar.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
import time_machine

from collector.ops.demo import demo_session
from collector.ops.maintenance.compaction import compact_week, count_rows
from collector.ops.schedule.plan import build_plan
from scripts.bench.synthetic_store import Shape, build_store
from shared.calendar import ET, get_session, latest_session, next_session, now_et, today_et
from shared.config import load_config
from shared.due import due_slots, recent_sessions
from shared.queries.change import chain_change
from shared.queries.context import ServerContext
from shared.queries.health import health_overview
from shared.queries.issues import get_partition_issues
from shared.storage import Layout
from shared.tasks import Task

TODAYS = {
    "monday-after-half-day": datetime(2026, 11, 30, 8, 0, tzinfo=ET),
    "christmas-eve": datetime(2026, 12, 24, 14, 0, tzinfo=ET),
    "day-after-july-4": datetime(2027, 7, 6, 6, 0, tzinfo=ET),
    "saturday": datetime(2026, 11, 28, 12, 0, tzinfo=ET),
    "dst-spring-sunday": datetime(2026, 3, 8, 12, 0, tzinfo=ET),
    "dst-fall-sunday": datetime(2026, 11, 1, 12, 0, tzinfo=ET),
    "before-the-open": datetime(2026, 11, 18, 6, 0, tzinfo=ET),
    "mid-session": datetime(2026, 11, 18, 15, 10, tzinfo=ET),
}
SYMBOLS = ["AAPL", "SPY", "MSFT", "QQQ"]


@pytest.fixture(params=sorted(TODAYS), scope="module")
def frozen(request: pytest.FixtureRequest) -> Iterator[datetime]:
    with time_machine.travel(TODAYS[request.param], tick=False):
        yield TODAYS[request.param]


@pytest.fixture(scope="module")
def store(frozen: datetime, tmp_path_factory: pytest.TempPathFactory) -> Path:
    end = latest_session(frozen).trade_date  # what a healthy collector holds by now
    root = tmp_path_factory.mktemp("any-day")
    return build_store(root, sessions=3, symbols=SYMBOLS, shape=Shape(2, 4), end=end)


@pytest.fixture(scope="module")
def ctx(store: Path) -> ServerContext:
    return ServerContext.build(load_config(store, env={}), allow_raw=True, allow_clean=True)


def test_the_clock_is_the_frozen_one(frozen: datetime) -> None:
    assert now_et() == frozen and today_et() == frozen.date()
    latest = latest_session()
    assert latest.close <= frozen and latest.trade_date <= frozen.date()


def due_today(ctx: ServerContext, frozen: datetime) -> list[str]:
    """Intraday slots of a session still in progress that are due by now (not in the store)."""
    today = get_session(frozen.date())
    if today is None or today.trade_date == latest_session(frozen).trade_date:
        return []
    return due_slots(ctx.cfg, today, frozen)["intraday"]


def test_health_sees_exactly_what_is_due(frozen: datetime, ctx: ServerContext) -> None:
    h = health_overview(ctx)
    day = date.fromisoformat(h["session"]["date"])
    assert day == recent_sessions(1)[0] and get_session(day) is not None
    pending = due_today(ctx, frozen)
    for view in ("intraday", "close", "daily_clean"):
        behind = view == "intraday" and bool(pending)
        status = h["freshness"][view]["status"]
        assert status == ("stale" if behind else "fresh"), (view, h["freshness"][view])
        cov = h["coverage"][view]
        # due partitions of the health session are there; nothing due is not a gap
        if behind:
            assert cov["written"] == 0 and cov["expected_partitions"] == len(SYMBOLS) * len(pending)
        else:
            assert cov["coverage"] in (None, 1.0), (view, cov)
            assert (cov["coverage"] is None) == (cov["expected_partitions"] == 0)


def test_partition_issues_list_only_what_is_due_and_absent(
    frozen: datetime, ctx: ServerContext
) -> None:
    issues = get_partition_issues(ctx, days=3, view=None, limit=500)
    rows = [
        dict(zip(issues["issues"]["columns"], r, strict=True)) for r in issues["issues"]["rows"]
    ]
    found = {(i["date"], i["view"], i["underlying"], i["slot"]) for i in rows}
    today = frozen.date().isoformat()
    pending = due_today(ctx, frozen)
    assert found == {(today, "intraday", s, slot) for s in SYMBOLS for slot in pending}
    checked = {(c["date"], c["view"]) for c in issues["checked"]}
    assert len(checked) == 3 * 3


def test_chain_change_defaults_to_the_slot_before_the_latest(
    frozen: datetime, ctx: ServerContext
) -> None:
    latest = latest_session(frozen)
    change = chain_change(ctx, "SPY", view="intraday", limit=5)
    assert change["to"]["date"] == latest.trade_date.isoformat()
    assert change["to"]["slot"] == latest.last_slot()  # the real close, 13:00 on a half day
    assert change["from"]["date"] == latest.trade_date.isoformat()
    assert change["contracts"]


def test_compaction_of_the_store_keeps_every_row(frozen: datetime, store: Path) -> None:
    cfg = load_config(store, env={})
    layout = Layout.from_config(cfg)
    days = sorted({d for d in recent_sessions(3, latest_session(frozen).trade_date)})
    before = count_rows(layout, "intraday", days)
    merged = 0
    for monday in sorted({d - timedelta(days=d.weekday()) for d in days}):
        report = compact_week(layout, monday, today=today_et(), same_day=True, compression_level=3)
        merged += len(report.items)
    assert merged == len(days) * len(SYMBOLS)  # every stored day was compacted, today or not
    assert count_rows(layout, "intraday", days) == before
    frame = pl.read_parquet(
        layout.view_root("intraday") / "**" / "*.parquet", hive_partitioning=False
    )
    assert frame.select("trade_date", "slot", "conid").is_duplicated().sum() == 0


def test_the_demo_runs_the_latest_closed_session(frozen: datetime) -> None:
    session = demo_session(None)
    assert session is not None and session.close <= frozen
    assert next_session(session.trade_date).close > frozen  # and no later one has closed


def test_the_plan_of_the_day_follows_the_calendar(frozen: datetime) -> None:
    cfg = load_config(Path("config/opt-data.test.toml"), env={})
    for day in recent_sessions(2):
        session = get_session(day)
        assert session is not None
        plan = build_plan(day, session, cfg)
        slots = [p.slot for p in plan if p.task == Task.SNAPSHOT]
        assert slots[0] == "09:30" and slots[-1] == session.last_slot()
        close = next(p for p in plan if p.task == Task.CLOSE_SNAPSHOT)
        enrichment = next(p for p in plan if p.task == Task.ENRICHMENT)
        assert close.when.date() == day and enrichment.when.date() == next_session(day).trade_date
        # every planned instant keeps its ET wall time (no DST drift)
        assert all(p.when.tzinfo is not None for p in plan)
    today = get_session(frozen.date())
    if today is not None:
        due = due_slots(cfg, today, frozen)["intraday"]
        grace = timedelta(seconds=cfg.acquisition.slot_grace_seconds)
        for label in today.slots(cfg.schedule.slot_interval_minutes, cfg.schedule.extra_slots):
            at = datetime.combine(today.trade_date, datetime.strptime(label, "%H:%M").time(), ET)
            assert (label in due) == (at + grace <= frozen), label
