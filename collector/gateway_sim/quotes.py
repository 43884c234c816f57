"""What the simulated market quotes for an instrument at a market instant.

Pure functions of (seed, instrument, market time): the same inputs give the same quote in
every process. Options are priced with Black-Scholes on the smile; volume grows through
the session; open interest is set per session and changes from day to day.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time

from collector.gateway_sim.contracts import Instrument
from collector.gateway_sim.market import MarketTime, UnderlyingModel, market_time
from collector.gateway_sim.pricing import (
    Greeks,
    atm_vol,
    bid_ask,
    black_scholes,
    implied_vol,
    option_tick,
    round_to_tick,
    smile_vol,
)
from collector.gateway_sim.profiles import Profile, stable_normal, stable_unit
from shared.calendar import ET, get_session, previous_session

YEAR_SECONDS = 365.0 * 24 * 3600


@dataclass(frozen=True)
class Quote:
    bid: float  # -1 = no bid
    ask: float  # -1 = no ask
    bid_size: int
    ask_size: int
    last: float | None
    last_size: int
    volume: int
    close: float
    open: float | None
    high: float | None
    low: float | None
    und_price: float
    greeks: Greeks | None = None  # options only
    open_interest: int = 0  # options: this contract's; underlyings: calls + puts
    call_volume: int = 0  # underlyings: aggregate option volume
    put_volume: int = 0
    call_open_interest: int = 0
    put_open_interest: int = 0
    atm_iv: float = 0.0  # underlyings: the 30-day at-the-money implied volatility
    range_52w: tuple[float, float] = (0.0, 0.0)  # (low, high) over 52 weeks


def session_progress(when: MarketTime) -> float:
    """0 at the open, 1 at the close (and whenever the market is closed)."""
    if not when.is_open:
        return 1.0
    span = (when.session.close - when.session.open).total_seconds()
    return min(max((when.at - when.session.open).total_seconds() / span, 0.0), 1.0)


def expiry_instant(inst: Instrument) -> datetime:
    """AM-settled: the open; PM-settled: the expiry day's close (13:00 on a half day)."""
    d = date(int(inst.expiry[:4]), int(inst.expiry[4:6]), int(inst.expiry[6:8]))
    if inst.am_settled:
        return datetime.combine(d, time(9, 30), ET)
    session = get_session(d)
    return session.close if session is not None else datetime.combine(d, time(16, 0), ET)


def option_liquidity(profile: Profile) -> float:
    """Typical contracts traded per day across the whole chain."""
    return 3_000_000.0 if profile.is_index else max(profile.daily_shares / 40.0, 20_000.0)


class QuoteEngine:
    def __init__(self, model: UnderlyingModel) -> None:
        self.model = model
        self.seed = model.seed

    def greeks(
        self, inst: Instrument, profile: Profile, when: MarketTime, spot: float | None = None
    ) -> tuple[Greeks, float]:
        """Model greeks of an option and its standardised moneyness z."""
        spot = self.model.price(profile, when) if spot is None else spot
        years = max((expiry_instant(inst) - when.at).total_seconds() / YEAR_SECONDS, 0.0)
        atm = atm_vol(profile.vol, years, self._day_factor(profile, when))
        skew = 0.12 if profile.is_index else 0.07
        vol = smile_vol(atm, spot, inst.strike, years, skew)
        z = math.log(inst.strike / spot) / (atm * math.sqrt(max(years, 1 / 365)))
        return black_scholes(inst.right, spot, inst.strike, years, vol, profile.div_yield), z

    def _day_factor(self, profile: Profile, when: MarketTime) -> float:
        return math.exp(0.08 * stable_normal(self.seed, profile.symbol, when.trade_date))

    def side_greeks(
        self, inst: Instrument, profile: Profile, when: MarketTime, price: float, spot: float
    ) -> Greeks | None:
        """Greeks at the volatility implied by a quoted price (bid or ask), if any fits."""
        if price <= 0:
            return None
        years = max((expiry_instant(inst) - when.at).total_seconds() / YEAR_SECONDS, 0.0)
        vol = implied_vol(inst.right, spot, inst.strike, years, price, profile.div_yield)
        if vol is None:
            return None
        return black_scholes(inst.right, spot, inst.strike, years, vol, profile.div_yield)

    def quote(
        self, inst: Instrument, profile: Profile, when: MarketTime, oi_date: date | None = None
    ) -> Quote:
        """The quote at a market instant. `oi_date` is the session whose open interest is
        published (IB updates it overnight, so before the open it is already the new day's)."""
        if inst.sec_type == "OPT":
            return self._option(inst, profile, when, oi_date or when.trade_date)
        return self._underlying(inst, profile, when)

    def _underlying(self, inst: Instrument, profile: Profile, when: MarketTime) -> Quote:
        price = self.model.price(profile, when)
        opened, high, low = self.model.day_range(profile, when)
        close = self.model.previous_close(profile, when.trade_date)
        progress = session_progress(when)
        liquidity = option_liquidity(profile) * progress**0.8
        oi = option_liquidity(profile) * 8 * math.exp(0.05 * self._noise(inst, when, "oi"))
        common = dict(
            close=close,
            open=opened,
            high=high,
            low=low,
            und_price=price,
            call_volume=int(liquidity * 0.55),
            put_volume=int(liquidity * 0.45),
            call_open_interest=int(oi * 0.52),
            put_open_interest=int(oi * 0.48),
            atm_iv=atm_vol(profile.vol, 30 / 365, self._day_factor(profile, when)),
            range_52w=self.model.range_52w(profile, when.trade_date),
        )
        if profile.is_index:
            return Quote(-1.0, -1.0, 0, 0, price, 0, 0, **common)  # type: ignore[arg-type]
        half = max(0.01, round(price * 0.00004, 2))
        volume = int(self.model.daily_shares(profile, when.trade_date) * progress**0.8 / 100)
        return Quote(
            round(price - half, 2),
            round(price + half, 2),
            self._size(inst, when, "bid", 30),
            self._size(inst, when, "ask", 30),
            price if volume else None,
            self._size(inst, when, "last", 5),
            volume,
            **common,  # type: ignore[arg-type]
        )

    def _option(self, inst: Instrument, profile: Profile, when: MarketTime, oi_date: date) -> Quote:
        g, z = self.greeks(inst, profile, when)
        years = max((expiry_instant(inst) - when.at).total_seconds() / YEAR_SECONDS, 0.0)
        bid, ask = bid_ask(g.price, z, years)
        total = self._daily_option_volume(inst, profile, when, z)
        volume = int(total * session_progress(when) ** 0.8)
        tick = option_tick(g.price)
        last = round_to_tick(g.price, tick) if volume else None
        prev = market_time(previous_session(when.trade_date).close)
        prev_close = 0.0
        if expiry_instant(inst) > prev.at:
            prev_close = round_to_tick(self.greeks(inst, profile, prev)[0].price, tick)
        high = low = None
        if last is not None:  # the option's day range, priced at the underlying's extremes
            _, und_high, und_low = self.model.day_range(profile, when)
            at_high = self.greeks(inst, profile, when, spot=und_high)[0].price
            at_low = self.greeks(inst, profile, when, spot=und_low)[0].price
            top, bottom = (at_high, at_low) if inst.right == "C" else (at_low, at_high)
            high = round_to_tick(max(top, last), tick)
            low = round_to_tick(min(bottom, last), tick)
        depth = max(1, int(60 * math.exp(-0.5 * abs(z))))
        return Quote(
            bid=bid,
            ask=ask,
            bid_size=self._size(inst, when, "bid", depth) if bid > 0 else 0,
            ask_size=self._size(inst, when, "ask", depth),
            last=last,
            last_size=self._size(inst, when, "last", 5),
            volume=volume,
            close=prev_close,
            open=None,
            high=high,
            low=low,
            und_price=self.model.price(profile, when),
            greeks=g,
            open_interest=self.open_interest(inst, profile, oi_date),
            range_52w=(
                round_to_tick(min(g.price, prev_close or g.price) * 0.6, tick),
                round_to_tick(max(g.price, prev_close) * 1.8, tick),
            ),
        )

    def _daily_option_volume(
        self, inst: Instrument, profile: Profile, when: MarketTime, z: float
    ) -> int:
        dte = (expiry_instant(inst).date() - when.trade_date).days
        weight = math.exp(-0.9 * abs(z)) * (2.0 if dte <= 7 else 1.0 if dte <= 45 else 0.3)
        noise = math.exp(0.5 * self._noise(inst, when, "vol"))
        return int(option_liquidity(profile) * 0.002 * weight * noise)

    def open_interest(self, inst: Instrument, profile: Profile, trade_date: date) -> int:
        """Open interest as of the previous session's end: constant through a session."""
        ref = self.model.previous_close(profile, trade_date)
        dte = max((expiry_instant(inst).date() - trade_date).days, 7)
        z = abs(math.log(inst.strike / ref)) / (profile.vol * math.sqrt(dte / 365.0))
        base = option_liquidity(profile) * 0.02 * math.exp(-0.8 * z)
        noise = 0.15 * stable_normal(self.seed, inst.con_id, trade_date, "oi")
        return int(base * math.exp(noise))

    def _size(self, inst: Instrument, when: MarketTime, side: str, scale: int) -> int:
        bucket = int(when.at.timestamp() // 5)  # sizes move every few seconds
        return 1 + int(scale * 2 * stable_unit(self.seed, inst.con_id, side, bucket))

    def _noise(self, inst: Instrument, when: MarketTime, what: str) -> float:
        return stable_normal(self.seed, inst.con_id, when.trade_date, what)
