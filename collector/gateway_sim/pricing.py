"""Black-Scholes prices and greeks with a volatility smile and a term structure.

Units follow TWS: implied vol as a fraction, delta per share, vega per 1 vol point and
theta per calendar day, both per share.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

RATE = 0.045
MIN_YEARS = 1.0 / (365.0 * 24.0 * 60.0)  # one minute: keeps 0DTE maths finite at the bell


@dataclass(frozen=True)
class Greeks:
    price: float
    delta: float
    gamma: float
    vega: float
    theta: float
    iv: float
    pv_dividend: float


def norm_cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def norm_pdf(x: float) -> float:
    return math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


def atm_vol(base_vol: float, years: float, day_factor: float) -> float:
    """Term structure: short expiries trade above the long-run level (and move more)."""
    short, long_ = base_vol * 1.12 * day_factor, base_vol * (0.96 + 0.04 * day_factor)
    return long_ + (short - long_) * math.exp(-years / 0.15)


def smile_vol(atm: float, spot: float, strike: float, years: float, skew: float) -> float:
    """Skewed smile in standardised moneyness z = ln(K/S) / (atm * sqrt(T))."""
    z = math.log(strike / spot) / (atm * math.sqrt(max(years, MIN_YEARS)))
    z = max(min(z, 6.0), -6.0)
    vol = atm * (1.0 - skew * z + 0.02 * z * z)
    return min(max(vol, 0.5 * atm), 3.0 * atm)


def black_scholes(
    right: str, spot: float, strike: float, years: float, vol: float, div_yield: float
) -> Greeks:
    """European price and greeks with a continuous dividend yield."""
    t = max(years, MIN_YEARS)
    sq = vol * math.sqrt(t)
    d1 = (math.log(spot / strike) + (RATE - div_yield + 0.5 * vol * vol) * t) / sq
    d2 = d1 - sq
    disc_r, disc_q = math.exp(-RATE * t), math.exp(-div_yield * t)
    pdf = norm_pdf(d1)
    if right == "C":
        price = spot * disc_q * norm_cdf(d1) - strike * disc_r * norm_cdf(d2)
        delta = disc_q * norm_cdf(d1)
        theta_y = (
            -spot * disc_q * pdf * vol / (2 * math.sqrt(t))
            - RATE * strike * disc_r * norm_cdf(d2)
            + div_yield * spot * disc_q * norm_cdf(d1)
        )
    else:
        price = strike * disc_r * norm_cdf(-d2) - spot * disc_q * norm_cdf(-d1)
        delta = -disc_q * norm_cdf(-d1)
        theta_y = (
            -spot * disc_q * pdf * vol / (2 * math.sqrt(t))
            + RATE * strike * disc_r * norm_cdf(-d2)
            - div_yield * spot * disc_q * norm_cdf(-d1)
        )
    gamma = disc_q * pdf / (spot * sq)
    vega = spot * disc_q * pdf * math.sqrt(t) / 100.0
    return Greeks(
        price=max(price, 0.0),
        delta=delta,
        gamma=gamma,
        vega=vega,
        theta=theta_y / 365.0,
        iv=vol,
        pv_dividend=spot * (1.0 - disc_q),
    )


def option_tick(price: float) -> float:
    """Minimum price increment: pennies below 3.00, nickels above (the common US rule)."""
    return 0.01 if price < 3.0 else 0.05


def round_to_tick(price: float, tick: float, mode: str = "nearest") -> float:
    units = price / tick
    n = math.floor(units + 1e-9) if mode == "down" else math.ceil(units - 1e-9)
    if mode == "nearest":
        n = round(units)
    return round(n * tick, 2)


def bid_ask(theo: float, z: float, years: float) -> tuple[float, float]:
    """A quoted market around the model price; wider away from the money and near expiry.

    Returns (-1, ask) when there is no bid (IB's 'no quote' price).
    """
    tick = option_tick(theo)
    half = 0.5 * tick + 0.015 * theo + 0.004 * abs(z) * theo + (0.01 if years < 2 / 365 else 0.0)
    bid = round_to_tick(theo - half, tick, "down")
    ask = max(round_to_tick(theo + half, tick, "up"), bid + tick, 0.01)
    return (bid if bid >= 0.01 else -1.0), round(ask, 2)


def implied_vol(
    right: str, spot: float, strike: float, years: float, price: float, div_yield: float
) -> float | None:
    """The volatility that reprices `price` (bisection), or None outside the no-arbitrage
    band, as TWS leaves the bid/ask computations empty when no volatility fits."""
    lo, hi = 0.005, 5.0
    if not (black_scholes(right, spot, strike, years, lo, div_yield).price < price):
        return None
    if not (price < black_scholes(right, spot, strike, years, hi, div_yield).price):
        return None
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if black_scholes(right, spot, strike, years, mid, div_yield).price < price:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-6:
            break
    return 0.5 * (lo + hi)
