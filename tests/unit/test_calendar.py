"""The XNYS calendar against known answers: holidays, half days, DST weeks, slots, dates."""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta

import pytest

from shared import calendar as cal
from shared.calendar import (
    ET,
    UTC,
    get_session,
    latest_session,
    next_session,
    parse_trade_date,
    previous_session,
    require_session,
    session_slots,
    slot_datetime,
    validate_slot,
)

HOLIDAYS = {
    2025: [
        "2025-01-01",  # New Year's Day
        "2025-01-09",  # National Day of Mourning for President Carter
        "2025-01-20",  # Martin Luther King Jr. Day
        "2025-02-17",  # Washington's Birthday
        "2025-04-18",  # Good Friday
        "2025-05-26",  # Memorial Day
        "2025-06-19",  # Juneteenth
        "2025-07-04",  # Independence Day
        "2025-09-01",  # Labor Day
        "2025-11-27",  # Thanksgiving
        "2025-12-25",  # Christmas
    ],
    2026: [
        "2026-01-01",
        "2026-01-19",
        "2026-02-16",
        "2026-04-03",  # Good Friday
        "2026-05-25",
        "2026-06-19",
        "2026-07-03",  # Independence Day observed (July 4 is a Saturday)
        "2026-09-07",
        "2026-11-26",  # Thanksgiving
        "2026-12-25",
    ],
}
HALF_DAYS = {
    2025: ["2025-07-03", "2025-11-28", "2025-12-24"],
    2026: ["2026-11-27", "2026-12-24"],
}
FULL_SLOTS = [f"{h:02d}:{m:02d}" for h in range(9, 16) for m in (0, 30) if (h, m) >= (9, 30)]
FULL_SLOTS.append("16:00")


def _weekdays(year: int) -> list[date]:
    d, out = date(year, 1, 1), []
    while d.year == year:
        if d.weekday() < 5:
            out.append(d)
        d += timedelta(days=1)
    return out


@pytest.mark.parametrize("year", [2025, 2026])
def test_every_weekday_holiday_of_the_year(year: int) -> None:
    closed = [d.isoformat() for d in _weekdays(year) if get_session(d) is None]
    assert closed == HOLIDAYS[year]


@pytest.mark.parametrize("year", [2025, 2026])
def test_every_half_day_of_the_year(year: int) -> None:
    half = [d.isoformat() for d in _weekdays(year) if (s := get_session(d)) and s.early_close]
    assert half == HALF_DAYS[year]


@pytest.mark.parametrize("day", HALF_DAYS[2025] + HALF_DAYS[2026])
def test_half_day_closes_at_13_with_8_slots(day: str) -> None:
    session = require_session(date.fromisoformat(day))
    assert session.close.timetz().replace(tzinfo=None) == time(13, 0)
    slots = session_slots(session)
    assert len(slots) == 8 and slots[0] == "09:30" and slots[-1] == "13:00"
    assert session.last_slot() == "13:00"


def test_regular_session_has_14_slots_and_extra_slots() -> None:
    session = require_session(date(2026, 11, 18))
    assert session_slots(session) == FULL_SLOTS and len(FULL_SLOTS) == 14
    assert "15:45" in session_slots(session, extra=("15:45",))
    half = require_session(date(2026, 11, 27))
    assert "15:45" not in session_slots(half, extra=("15:45",))  # after the early close


@pytest.mark.parametrize(
    "before, after, utc_before, utc_after",
    [
        (date(2025, 3, 7), date(2025, 3, 10), 14, 13),  # DST starts 2025-03-09
        (date(2025, 10, 31), date(2025, 11, 3), 13, 14),  # DST ends 2025-11-02
        (date(2026, 3, 6), date(2026, 3, 9), 14, 13),  # DST starts 2026-03-08
        (date(2026, 10, 30), date(2026, 11, 2), 13, 14),  # DST ends 2026-11-01
    ],
)
def test_dst_weeks_keep_0930_et_and_shift_utc(
    before: date, after: date, utc_before: int, utc_after: int
) -> None:
    for day, utc_hour in ((before, utc_before), (after, utc_after)):
        session = require_session(day)
        assert session_slots(session)[0] == "09:30"
        assert session.open.astimezone(ET).time() == time(9, 30)
        assert session.open.astimezone(UTC).time() == time(utc_hour, 30)
        assert slot_datetime(day, "09:30").astimezone(UTC).hour == utc_hour
        assert len(session_slots(session)) == 14


def test_slot_validation() -> None:
    session = require_session(date(2026, 11, 18))
    assert validate_slot(session, "10:00") == "10:00"
    assert validate_slot(session, "1030") == "10:30"
    for bad in ("10:15", "09:00", "16:30"):
        with pytest.raises(ValueError, match="outside"):
            validate_slot(session, bad)
    for bad in ("25:00", "9:3", "abc", "12:60"):
        with pytest.raises(ValueError, match="HH:MM"):
            validate_slot(session, bad)
    half = require_session(date(2026, 12, 24))
    with pytest.raises(ValueError, match="13:00"):
        validate_slot(half, "13:30")


def test_parse_trade_date() -> None:
    assert parse_trade_date("2026-11-20") == date(2026, 11, 20)
    assert parse_trade_date(" 2025-01-09 ") == date(2025, 1, 9)
    late_evening_et = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)  # 22:00 ET on the 20th
    assert parse_trade_date("today", now=late_evening_et) == date(2026, 11, 20)
    assert parse_trade_date("TODAY", now=late_evening_et) == date(2026, 11, 20)
    for bad in ("2026-02-30", "20261120", "2026-W47-5", "someday", "-x", ""):
        with pytest.raises(ValueError, match="YYYY-MM-DD"):
            parse_trade_date(bad)


def test_neighbouring_sessions_skip_holidays_and_weekends() -> None:
    assert previous_session(date(2025, 1, 10)).trade_date == date(2025, 1, 8)
    assert next_session(date(2025, 1, 8)).trade_date == date(2025, 1, 10)
    assert next_session(date(2026, 4, 2)).trade_date == date(2026, 4, 6)  # Good Friday
    assert previous_session(date(2026, 1, 1)).trade_date == date(2025, 12, 31)  # across years


def test_latest_session() -> None:
    saturday = datetime(2026, 11, 21, 12, 0, tzinfo=ET)
    assert latest_session(saturday).trade_date == date(2026, 11, 20)
    during = datetime(2026, 11, 18, 11, 0, tzinfo=ET)
    assert latest_session(during).trade_date == date(2026, 11, 17)
    after_close = datetime(2026, 11, 18, 16, 0, tzinfo=ET)
    assert latest_session(after_close).trade_date == date(2026, 11, 18)


def test_require_session_names_the_reason() -> None:
    with pytest.raises(ValueError, match="weekend"):
        require_session(date(2026, 11, 21))
    with pytest.raises(ValueError, match="holiday"):
        require_session(date(2025, 1, 9))


def test_fallback_without_pandas_market_calendars(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import builtins

    real_import = builtins.__import__

    def no_mcal(name: str, *args: object, **kwargs: object) -> object:
        if name == "pandas_market_calendars":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    cal._xnys.cache_clear()
    cal._sessions_in_year.cache_clear()
    monkeypatch.setattr(builtins, "__import__", no_mcal)
    try:
        with caplog.at_level(logging.WARNING, logger="shared.calendar"):
            session = get_session(date(2025, 11, 27))  # Thanksgiving becomes a session
        assert session is not None and session.source == "fixed_fallback"
        assert not session.early_close and session.close.time() == time(16, 0)
        assert get_session(date(2025, 11, 29)) is None  # still no weekends
        assert "fixed 09:30-16:00" in caplog.text
    finally:
        monkeypatch.undo()
        cal._xnys.cache_clear()
        cal._sessions_in_year.cache_clear()
    assert get_session(date(2025, 11, 27)) is None
