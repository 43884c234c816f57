"""Underlying price paths: deterministic per (seed, symbol, trade date), sessions from XNYS.

A daily log-price follows a mean-reverting random walk around the profile's base price;
each session's minute path is a Brownian bridge from the open to that day's close. The
market is live only inside XNYS sessions; outside them every value is frozen at the last
close, as on a real gateway.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np

from collector.gateway_sim.profiles import Profile, stable_normal, stable_u64
from shared.calendar import ET, Session, get_session, previous_session

ANCHOR = date(2015, 1, 1)
HORIZON_DAYS = 366 * 32  # the daily walk covers 2015 .. 2046
WANDER = 0.25  # stationary std-dev of the log price around log(base): prices stay plausible


@dataclass(frozen=True)
class MarketTime:
    """Which session's values are served at an instant, and at what moment of it."""

    trade_date: date  # the session whose values are served
    at: datetime  # the instant within that session (its close when frozen)
    is_open: bool  # False: outside the session, values frozen at the last close
    session: Session


def market_time(now: datetime) -> MarketTime:
    """Live inside today's session; otherwise the last close at or before `now`."""
    now_et = now.astimezone(ET)
    today = get_session(now_et.date())
    if today is not None and today.open <= now_et < today.close:
        return MarketTime(today.trade_date, now_et, True, today)
    if today is not None and now_et >= today.close:
        return MarketTime(today.trade_date, today.close, False, today)
    prev = previous_session(now_et.date())
    return MarketTime(prev.trade_date, prev.close, False, prev)


def listing_date(now: datetime) -> date:
    """The session whose option listings are current: today if a session, else the next."""
    day = now.astimezone(ET).date()
    for _ in range(10):
        if get_session(day) is not None:
            return day
        day += timedelta(days=1)
    raise LookupError(f"no XNYS session within 10 days after {now.date()}")


class UnderlyingModel:
    """Daily closes and intraday minute paths of every underlying, for one seed."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    @functools.lru_cache(maxsize=64)  # noqa: B019 - one model per server, few symbols
    def _daily_log_offsets(self, symbol: str, vol: float) -> np.ndarray:
        rng = np.random.default_rng(stable_u64(self.seed, symbol, "daily"))
        daily = vol * 0.9 / math.sqrt(365.0)
        phi = math.sqrt(1.0 - min((daily / WANDER) ** 2, 0.5))  # AR(1) mean reversion
        shocks = rng.standard_normal(HORIZON_DAYS) * daily
        out = np.empty(HORIZON_DAYS)
        x = 0.0
        for i, shock in enumerate(shocks):
            x = phi * x + shock
            out[i] = x
        return out

    def close(self, profile: Profile, day: date) -> float:
        """The closing price of `day` (a session date)."""
        index = min(max((day - ANCHOR).days, 0), HORIZON_DAYS - 1)
        offset = float(self._daily_log_offsets(profile.symbol, profile.vol)[index])
        return round(profile.base_price * math.exp(offset), 2)

    def range_52w(self, profile: Profile, day: date) -> tuple[float, float]:
        """(low, high) of the daily closes over the 52 weeks before `day`."""
        end = min(max((day - ANCHOR).days, 1), HORIZON_DAYS - 1)
        window = self._daily_log_offsets(profile.symbol, profile.vol)[max(end - 364, 0) : end]
        low, high = float(window.min()), float(window.max())
        return (
            round(profile.base_price * math.exp(low), 2),
            round(profile.base_price * math.exp(high), 2),
        )

    def previous_close(self, profile: Profile, day: date) -> float:
        return self.close(profile, previous_session(day).trade_date)

    def open(self, profile: Profile, day: date) -> float:
        gap = stable_normal(self.seed, profile.symbol, day, "gap") * profile.vol * 0.004
        return round(self.previous_close(profile, day) * math.exp(gap), 2)

    @functools.lru_cache(maxsize=512)  # noqa: B019
    def minute_path(self, profile: Profile, day: date) -> np.ndarray:
        """Prices at every minute of the session from the open to the close, inclusive."""
        session = get_session(day)
        if session is None:
            raise ValueError(f"{day} is not a session")
        n = max(int((session.close - session.open).total_seconds() // 60), 1)
        rng = np.random.default_rng(stable_u64(self.seed, profile.symbol, day, "intraday"))
        step = profile.vol / math.sqrt(252.0 * 390.0)
        walk = np.concatenate([[0.0], np.cumsum(rng.standard_normal(n) * step)])
        frac = np.arange(n + 1) / n
        bridge = walk - frac * walk[-1]
        lo, lc = math.log(self.open(profile, day)), math.log(self.close(profile, day))
        return np.exp(lo + frac * (lc - lo) + bridge)

    def price(self, profile: Profile, when: MarketTime) -> float:
        """The underlying's price at a market instant (linear between minutes)."""
        path = self.minute_path(profile, when.trade_date)
        minutes = (when.at - when.session.open).total_seconds() / 60.0
        minutes = min(max(minutes, 0.0), len(path) - 1.0)
        i = int(minutes)
        if i >= len(path) - 1:
            return round(float(path[-1]), 2)
        w = minutes - i
        return round(float(path[i] * (1 - w) + path[i + 1] * w), 2)

    def day_range(self, profile: Profile, when: MarketTime) -> tuple[float, float, float]:
        """(open, high, low) of the session up to the market instant."""
        path = self.minute_path(profile, when.trade_date)
        minutes = (when.at - when.session.open).total_seconds() / 60.0
        upto = path[: min(max(int(minutes) + 1, 1), len(path))]
        return round(float(path[0]), 2), round(float(upto.max()), 2), round(float(upto.min()), 2)

    def daily_shares(self, profile: Profile, day: date) -> int:
        factor = math.exp(0.25 * stable_normal(self.seed, profile.symbol, day, "shares"))
        return int(profile.daily_shares * factor)
