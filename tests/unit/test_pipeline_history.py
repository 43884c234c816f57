"""Daily bars from 8-hour bars; merging keeps one bar per day."""

from __future__ import annotations

from datetime import UTC, date, datetime

from collector.ib.types import Bar
from collector.pipeline.daily_bars import HistoricalPacer, daily_from_bars, merge_history


def bar(day: int, hour_utc: int, o: float, h: float, lo: float, c: float, v: float) -> Bar:
    return Bar(datetime(2026, 11, day, hour_utc, 0, tzinfo=UTC), o, h, lo, c, v, (o + c) / 2, 10)


def test_daily_from_8h_bars_groups_by_et_day() -> None:
    bars = [
        bar(17, 9, 100, 102, 99, 101, 10),  # 04:00 ET Nov 17
        bar(17, 17, 101, 105, 100, 104, 30),  # 12:00 ET
        bar(18, 1, 104, 106, 103, 103, 5),  # 20:00 ET Nov 17
        bar(18, 9, 103, 103, 98, 99, 20),  # Nov 18
    ]
    rows = daily_from_bars("AAPL", 265598, bars, "8 hours", "run-1")
    assert [r["bar_date"] for r in rows] == [date(2026, 11, 17), date(2026, 11, 18)]
    d1 = rows[0]
    assert (d1["open"], d1["high"], d1["low"], d1["close"], d1["volume"]) == (100, 106, 99, 103, 45)
    assert d1["source_bars"] == 3 and d1["bar_count"] == 30


def test_merge_replaces_same_day() -> None:
    first = merge_history(
        None, daily_from_bars("AAPL", 1, [bar(17, 17, 1, 2, 0.5, 1.5, 1)], "8 hours", "a")
    )
    second = merge_history(
        first,
        daily_from_bars(
            "AAPL", 1, [bar(17, 17, 1, 3, 0.5, 2.5, 2), bar(18, 17, 2, 3, 1, 2, 1)], "8 hours", "b"
        ),
    )
    assert second.num_rows == 2
    assert second.to_pylist()[0]["close"] == 2.5


def test_historical_pacer_limits() -> None:
    pacer = HistoricalPacer(per_10min=3, per_2s=2)
    pacer._times.extend([0.0, 0.5])
    assert pacer.delay(1.0) == 1.0  # third within 2 s waits until the first leaves the window
    pacer._times.append(2.1)
    assert pacer.delay(3.0) == 597.0  # 60-per-10-min rule (3 here)
