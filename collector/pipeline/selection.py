"""Pure discovery rules: which expiries and strikes of a chain to collect.

Expiries: the next `monthlies` standard monthlies (third Friday, or the session before it
when that Friday is a holiday), the next `quarterlies` quarter-end monthlies after those,
and the `near_weeklies` nearest other expiries. Strikes: within +-moneyness of the
reference price, `strikes_per_side` on each side of it, plus one "wing" strike nearest
each of reference x (1 -+ w) for every w in `wings`, at most `max_strikes_per_expiry`
(wings are kept first, then the near strikes closest to the money).

Why wings: the nearest strikes alone stop well short of the 25-delta points the
volatility analytics need (RR25/BF25, the fixed-delta surface). For a 30-day option the
25-delta strikes sit near ln(K/S) = -+0.674 x sigma x sqrt(T): about 3% away at 15% vol
and 8% at 40% vol, where 3 strikes a side of SPY ($1 apart) reach only 0.5%. Wings at 5,
10 and 20% reach the 25-delta points of the 7-60 day expiries from 15% to 50% volatility
and of 90 days up to 40% (tests/mcp/test_selection_wings.py), for 6 extra strikes at most;
past that the +-20% moneyness band is the limit. Wings are set by discovery.wing_moneyness
(on in the shipped config; off in code, so other configurations keep their strike count).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from shared.calendar import get_session

QUARTER_MONTHS = (3, 6, 9, 12)


def third_friday(year: int, month: int) -> date:
    first = date(year, month, 1)
    offset = (4 - first.weekday()) % 7
    return first + timedelta(days=offset + 14)


def monthly_expiry(year: int, month: int) -> date:
    """The standard monthly expiry: the third Friday, or the session before a holiday."""
    d = third_friday(year, month)
    for _ in range(4):
        if get_session(d) is not None:
            return d
        d -= timedelta(days=1)
    return third_friday(year, month)


def is_monthly(d: date) -> bool:
    return d == monthly_expiry(d.year, d.month) or d == third_friday(d.year, d.month)


def is_quarterly(d: date) -> bool:
    return is_monthly(d) and d.month in QUARTER_MONTHS


def parse_expiry(text: str) -> date:
    t = text.strip()[:8]
    return date(int(t[:4]), int(t[4:6]), int(t[6:8]))


@dataclass(frozen=True)
class ExpiryRules:
    near_weeklies: int = 2
    monthlies: int = 3
    quarterlies: int = 2
    max_days_to_expiry: int = 400


def select_expiries(
    expirations: Iterable[date], trade_date: date, rules: ExpiryRules
) -> list[date]:
    """The expiries to collect, ascending; expired and too-far ones are never chosen."""
    horizon = trade_date + timedelta(days=rules.max_days_to_expiry)
    live = sorted({d for d in expirations if trade_date <= d <= horizon})
    monthlies = [d for d in live if is_monthly(d)]
    chosen = set(monthlies[: rules.monthlies])
    later_quarterlies = [d for d in monthlies[rules.monthlies :] if d.month in QUARTER_MONTHS]
    chosen.update(later_quarterlies[: rules.quarterlies])
    weeklies = [d for d in live if not is_monthly(d)]
    chosen.update(weeklies[: rules.near_weeklies])
    return sorted(chosen)


@dataclass(frozen=True)
class StrikeRules:
    strikes_per_side: int = 3
    max_strikes_per_expiry: int = 10
    moneyness: float = 0.20
    # Relative distances from the reference of the wing strikes (discovery.wing_moneyness).
    wings: tuple[float, ...] = ()


def select_strikes(strikes: Sequence[float], reference: float, rules: StrikeRules) -> list[float]:
    """`strikes_per_side` strikes at or below the reference and as many above, plus the wing
    strikes, all within moneyness."""
    lo, hi = reference * (1 - rules.moneyness), reference * (1 + rules.moneyness)
    inside = sorted({float(s) for s in strikes if lo <= s <= hi})
    below = [s for s in inside if s <= reference][-rules.strikes_per_side :]
    above = [s for s in inside if s > reference][: rules.strikes_per_side]
    near = sorted(below + above, key=lambda s: (abs(s - reference), s))
    wings: list[float] = []
    for w in sorted(rules.wings):
        for target in (reference * (1 - w), reference * (1 + w)):
            if inside:
                best = min(inside, key=lambda s, t=target: (abs(s - t), s))  # type: ignore[misc]
                if best not in wings:
                    wings.append(best)
    cap = rules.max_strikes_per_expiry
    # Wings first (nearest the money first when even they exceed the cap), then near strikes.
    kept = sorted(wings, key=lambda s: (abs(s - reference), s))[:cap]
    kept += [s for s in near if s not in kept][: max(0, cap - len(kept))]
    return sorted(kept)


def nearest_strikes(strikes: Sequence[float], reference: float, per_side: int) -> set[float]:
    """For `snapshot --strikes N`: the N strikes each side of the reference."""
    ordered = sorted(set(strikes))
    below = [s for s in ordered if s <= reference][-per_side:]
    above = [s for s in ordered if s > reference][:per_side]
    return set(below + above)
