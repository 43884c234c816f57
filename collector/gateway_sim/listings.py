"""Listed option expiries and per-expiry strike grids, as of a listing date.

Expiries: weeklies (Fridays), monthlies (third Fridays), quarterlies and LEAPS; dailies
for SPY/QQQ; SPX monthlies (trading class SPX, AM-settled) and SPXW dailies/weeklies/
quarter-ends. A holiday expiry moves to the session before. Strike grids depend on the
expiry: near expiries are fine-grained and narrow, far ones coarse and wide, so the union
that reqSecDefOptParams returns contains (expiry, strike) pairs that do not exist.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta

from collector.gateway_sim.profiles import Profile
from shared.calendar import get_session

QUARTER_MONTHS = (3, 6, 9, 12)
INDEX_CLASSES = {"SPX": ("SPX", "SPXW"), "NDX": ("NDX", "NDXP")}


@dataclass(frozen=True)
class Expiry:
    day: date
    trading_class: str
    kind: str  # daily, weekly, monthly, quarterly, leaps
    am_settled: bool = False

    @property
    def text(self) -> str:
        return self.day.strftime("%Y%m%d")


def third_friday(year: int, month: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(4 - first.weekday()) % 7 + 14)


def _on_or_before_session(day: date) -> date:
    for _ in range(7):
        if get_session(day) is not None:
            return day
        day -= timedelta(days=1)
    return day


def _month_end_session(year: int, month: int) -> date:
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    return _on_or_before_session(nxt - timedelta(days=1))


def _months_ahead(start: date, count: int) -> list[tuple[int, int]]:
    out, y, m = [], start.year, start.month
    for _ in range(count):
        out.append((y, m))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def _fridays(start: date, weeks: int) -> list[date]:
    first = start + timedelta(days=(4 - start.weekday()) % 7)
    return [_on_or_before_session(first + timedelta(weeks=i)) for i in range(weeks)]


def _sessions(start: date, count: int) -> list[date]:
    out: list[date] = []
    day = start
    while len(out) < count:
        if get_session(day) is not None:
            out.append(day)
        day += timedelta(days=1)
    return out


def listed_expiries(profile: Profile, on: date) -> list[Expiry]:
    """Every expiry listed on `on` (itself included when an expiry falls on it), sorted."""
    found: dict[tuple[date, str], Expiry] = {}

    def add(day: date, tc: str, kind: str, am: bool = False) -> None:
        if day >= on and (day, tc) not in found:
            found[(day, tc)] = Expiry(day, tc, kind, am)

    sym, style = profile.symbol, profile.option_style
    months = _months_ahead(on, 30)
    if style == "vix":
        for y, m in months[1:8]:
            add(third_friday(y, m) - timedelta(days=30), sym, "monthly")
    elif style == "index":
        monthly_tc, weekly_tc = INDEX_CLASSES.get(sym, (sym, sym + "W"))
        for y, m in months[:13]:
            add(_on_or_before_session(third_friday(y, m)), monthly_tc, "monthly", am=True)
        for y, m in months[13:30]:
            if m == 12:
                add(_on_or_before_session(third_friday(y, m)), monthly_tc, "leaps", am=True)
        for day in _sessions(on, 8):
            add(day, weekly_tc, "daily")
        for day in _fridays(on, 8):
            add(day, weekly_tc, "weekly")
        for y, m in months[:4]:
            add(_month_end_session(y, m), weekly_tc, "monthly")
        for y, m in months[:12]:
            if m in QUARTER_MONTHS:
                add(_month_end_session(y, m), weekly_tc, "quarterly")
    else:
        for y, m in months[:9]:
            add(_on_or_before_session(third_friday(y, m)), sym, "monthly")
        for y, m in months[9:16]:
            if m in QUARTER_MONTHS:
                add(_on_or_before_session(third_friday(y, m)), sym, "quarterly")
        for y, m in months[12:30]:
            if m == 1:
                add(_on_or_before_session(third_friday(y, m)), sym, "leaps")
        if style == "etf":
            for day in _sessions(on, 8):
                add(day, sym, "daily")
            for y, m in months[:12]:
                if m in QUARTER_MONTHS:
                    add(_month_end_session(y, m), sym, "quarterly")
        for day in _fridays(on, 6):
            add(day, sym, "weekly")
    return sorted(found.values(), key=lambda e: (e.day, e.trading_class))


def base_step(profile: Profile, ref: float) -> float:
    """The finest strike increment for the underlying at price `ref`."""
    if profile.option_style == "index":
        return 5.0 if ref < 10_000 else 10.0
    if profile.option_style == "etf":
        return 1.0
    if ref < 25:
        return 0.5
    if ref < 150:
        return 1.0
    if ref < 300:
        return 2.5
    return 5.0 if ref < 1000 else 10.0


def strike_grid(profile: Profile, expiry: Expiry, on: date, ref: float) -> tuple[float, ...]:
    """Strikes of one expiry: fine near the money, coarser and wider further out in time."""
    dte = max((expiry.day - on).days, 1)
    step = base_step(profile, ref)
    sd = profile.vol * math.sqrt(dte / 365.0)
    if dte <= 60:
        bands = [(step, max(0.08, 2.8 * sd))]
    elif dte <= 200:
        bands = [(step, 0.06), (2 * step, max(0.25, 3.0 * sd))]
    else:
        bands = [(4 * step, min(max(0.40, 3.0 * sd), 0.9))]
    strikes: set[float] = set()
    for band_step, width in bands:
        lo = max(ref * (1 - width), band_step)
        hi = min(ref * (1 + width), 41_000.0)
        k = math.ceil(lo / band_step)
        while k * band_step <= hi:
            strikes.add(round(k * band_step, 4))
            k += 1
    return tuple(sorted(strikes))
