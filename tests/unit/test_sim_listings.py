"""Listed expiries and per-expiry strike grids."""

from __future__ import annotations

from datetime import date

from collector.gateway_sim.listings import listed_expiries, strike_grid, third_friday
from collector.gateway_sim.profiles import KNOWN, generated_profile

AAPL, SPY, SPX, VIX = KNOWN["AAPL"], KNOWN["SPY"], KNOWN["SPX"], KNOWN["VIX"]


def test_third_friday() -> None:
    assert third_friday(2026, 11) == date(2026, 11, 20)
    assert third_friday(2026, 1) == date(2026, 1, 16)


def test_equity_has_weeklies_monthlies_quarterlies_and_leaps() -> None:
    on = date(2026, 11, 18)
    expiries = listed_expiries(AAPL, on)
    kinds = {e.kind for e in expiries}
    assert kinds == {"weekly", "monthly", "quarterly", "leaps"}
    days = [e.day for e in expiries]
    assert days == sorted(days) and days[0] == date(2026, 11, 20)
    assert date(2026, 11, 27) in days  # the day after Thanksgiving: a half-day session
    assert date(2026, 12, 24) in days and date(2026, 12, 25) not in days  # Christmas Friday
    assert all(e.day >= on for e in expiries)
    assert any(e.day.year == 2028 and e.day.month == 1 for e in expiries)


def test_holiday_friday_moves_to_thursday() -> None:
    days = [e.day for e in listed_expiries(AAPL, date(2026, 3, 30))]
    assert date(2026, 4, 3) not in days  # Good Friday 2026
    assert date(2026, 4, 2) in days


def test_etf_has_dailies() -> None:
    days = [e.day for e in listed_expiries(SPY, date(2026, 11, 16)) if e.kind == "daily"]
    assert days[:3] == [date(2026, 11, 16), date(2026, 11, 17), date(2026, 11, 18)]


def test_spx_monthlies_are_am_settled_and_spxw_has_dailies() -> None:
    expiries = listed_expiries(SPX, date(2026, 11, 16))
    spx = [e for e in expiries if e.trading_class == "SPX"]
    spxw = [e for e in expiries if e.trading_class == "SPXW"]
    assert all(e.am_settled and e.day.weekday() == 4 for e in spx[:6])
    assert spx[0].day == date(2026, 11, 20)
    assert [e.day for e in spxw[:3]] == [date(2026, 11, 16), date(2026, 11, 17), date(2026, 11, 18)]
    assert date(2026, 11, 20) in {e.day for e in spxw}  # both classes on the third Friday


def test_vix_expires_on_wednesdays() -> None:
    assert all(e.day.weekday() == 2 for e in listed_expiries(VIX, date(2026, 11, 16)))


def test_strike_grids_differ_by_expiry() -> None:
    on = date(2026, 11, 18)
    expiries = listed_expiries(AAPL, on)
    near, far = expiries[1], expiries[-1]
    g_near, g_far = strike_grid(AAPL, near, on, 230.0), strike_grid(AAPL, far, on, 230.0)
    assert g_near != g_far
    assert set(g_near) - set(g_far) and set(g_far) - set(g_near)  # each has strikes the other lacks
    assert min(g_far) < min(g_near) and max(g_far) > max(g_near)  # far expiries are wider
    assert 230.0 in g_near and all(k > 0 for k in g_far)


def test_generated_symbols_have_plausible_grids() -> None:
    foo = generated_profile("FOO")
    on = date(2026, 11, 18)
    grid = strike_grid(foo, listed_expiries(foo, on)[0], on, foo.base_price)
    assert len(grid) > 5 and grid == tuple(sorted(grid))
