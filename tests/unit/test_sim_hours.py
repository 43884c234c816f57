"""tradingHours / liquidHours text and IDEALPRO's week."""

from __future__ import annotations

from datetime import date, datetime

from collector.gateway_sim.hours import fx_hours, fx_is_open, session_hours
from shared.calendar import ET


def test_stock_hours_follow_the_calendar_with_holidays_and_half_days() -> None:
    trading, liquid = session_hours(date(2026, 11, 25), "US/Eastern", extended=True)
    days = dict(part.split(":", 1) for part in liquid.split(";"))
    assert days["20261125"] == "0930-20261125:1600"
    assert days["20261126"] == "CLOSED"  # Thanksgiving
    assert days["20261127"] == "0930-20261127:1300"  # half day
    assert "20261127:0400-20261127:1700" in trading  # extended hours end early too
    assert len(liquid.split(";")) == 7


def test_cboe_products_are_described_in_chicago_time() -> None:
    trading, liquid = session_hours(date(2026, 11, 18), "US/Central", extended=False)
    assert trading == liquid and liquid.startswith("20261118:0830-20261118:1500")


def test_idealpro_trades_sunday_evening_to_friday_evening() -> None:
    assert not fx_is_open(datetime(2026, 11, 21, 12, 0, tzinfo=ET))  # Saturday
    assert not fx_is_open(datetime(2026, 11, 22, 17, 0, tzinfo=ET))  # before Sunday's open
    assert fx_is_open(datetime(2026, 11, 22, 17, 15, tzinfo=ET))
    assert not fx_is_open(datetime(2026, 11, 24, 17, 5, tzinfo=ET))  # the daily break
    assert fx_is_open(datetime(2026, 11, 27, 16, 59, tzinfo=ET))
    assert not fx_is_open(datetime(2026, 11, 27, 17, 0, tzinfo=ET))  # Friday close
    assert fx_hours(date(2026, 11, 22)).startswith("20261122:1715-20261123:1700;")
