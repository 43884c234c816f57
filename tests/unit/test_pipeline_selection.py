"""Discovery rules: expiries (monthly, quarterly, near weeklies) and strikes around the price."""

from __future__ import annotations

from datetime import date, timedelta

from collector.pipeline.selection import (
    ExpiryRules,
    StrikeRules,
    is_monthly,
    monthly_expiry,
    nearest_strikes,
    select_expiries,
    select_strikes,
)


def test_monthly_is_third_friday_or_session_before_holiday() -> None:
    assert monthly_expiry(2026, 11) == date(2026, 11, 20)
    assert monthly_expiry(2025, 4) == date(2025, 4, 17)  # Good Friday 2025-04-18: Thursday
    assert is_monthly(date(2025, 4, 17)) and not is_monthly(date(2026, 11, 13))


def test_expiry_selection() -> None:
    today = date(2026, 11, 18)
    fridays = [date(2026, 11, 20) + timedelta(weeks=i) for i in range(60)]
    chosen = select_expiries([*fridays, date(2026, 11, 10)], today, ExpiryRules(2, 3, 2, 400))
    monthlies = [d for d in chosen if is_monthly(d)]
    assert monthlies[:3] == [date(2026, 11, 20), date(2026, 12, 18), date(2027, 1, 15)]
    assert [d for d in monthlies[3:]] == [date(2027, 3, 19), date(2027, 6, 18)]  # quarterlies
    weeklies = [d for d in chosen if not is_monthly(d)]
    assert weeklies == [date(2026, 11, 27), date(2026, 12, 4)]
    assert date(2026, 11, 10) not in chosen  # expired


def test_strike_selection_around_reference() -> None:
    strikes = [float(s) for s in range(50, 151, 5)]
    picked = select_strikes(strikes, 101.0, StrikeRules(3, 10, 0.2))
    assert picked == [90.0, 95.0, 100.0, 105.0, 110.0, 115.0]
    capped = select_strikes(strikes, 101.0, StrikeRules(5, 4, 0.2))
    assert capped == [95.0, 100.0, 105.0, 110.0]
    narrow = select_strikes(strikes, 101.0, StrikeRules(5, 20, 0.05))
    assert narrow == [100.0, 105.0]
    assert nearest_strikes(strikes, 101.0, 1) == {100.0, 105.0}
