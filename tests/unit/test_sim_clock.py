"""The simulated clock and the small parsers the CLI uses."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest

from collector.gateway_sim import FaultConfig, SimClock, parse_clock
from collector.gateway_sim.faults import FaultPlan, parse_connectivity, parse_symbols
from shared.calendar import ET, UTC


def test_parse_clock() -> None:
    assert parse_clock("2026-11-18") == datetime(2026, 11, 18, 9, 30, tzinfo=ET)
    assert parse_clock("2026-07-02T15:45") == datetime(2026, 7, 2, 15, 45, tzinfo=ET)
    for bad in ("2026-13-01", "tomorrow", "2026-11-18T25:00"):
        with pytest.raises(ValueError, match="YYYY-MM-DD"):
            parse_clock(bad)


def test_wall_clock_by_default() -> None:
    now = SimClock().now()
    assert now.tzinfo is not None
    assert abs((now - datetime.now(UTC)).total_seconds()) < 5


def test_set_and_speed() -> None:
    clock = SimClock(datetime(2026, 3, 6, 10, 0, tzinfo=ET), speed=600.0)
    time.sleep(0.02)
    assert clock.now() - datetime(2026, 3, 6, 10, 0, tzinfo=ET) >= timedelta(seconds=12)
    clock.set(datetime(2026, 3, 9, 15, 0))  # naive = ET, across the DST change
    assert clock.now().utcoffset() == timedelta(hours=-4)
    assert clock.real_seconds(600.0) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        SimClock(speed=0)


def test_parse_connectivity_and_symbols() -> None:
    assert parse_connectivity("8:1102, 5:1100") == ((5.0, 1100), (8.0, 1102))
    assert parse_connectivity("") == ()
    for bad in ("5", "x:1100", "5:2104", "-1:1100"):
        with pytest.raises(ValueError):
            parse_connectivity(bad)
    assert parse_symbols(" aapl, ,msft") == ("AAPL", "MSFT")


def test_disconnect_after_messages_fires_once_by_default() -> None:
    plan = FaultPlan(FaultConfig(disconnect_after_messages=3), seed=7)
    assert [plan.should_disconnect(n) for n in range(1, 6)] == [False, False, True, False, False]
    again = FaultPlan(FaultConfig(disconnect_after_messages=3, disconnect_once=False), seed=7)
    assert again.should_disconnect(3) and again.should_disconnect(3)
