"""Black-Scholes prices, greeks, smile, term structure and quoted markets."""

from __future__ import annotations

import math

import pytest

from collector.gateway_sim.pricing import (
    RATE,
    atm_vol,
    bid_ask,
    black_scholes,
    implied_vol,
    smile_vol,
)


def test_put_call_parity_with_dividends() -> None:
    s, k, t, v, q = 100.0, 105.0, 0.5, 0.3, 0.02
    call, put = black_scholes("C", s, k, t, v, q), black_scholes("P", s, k, t, v, q)
    assert call.price - put.price == pytest.approx(
        s * math.exp(-q * t) - k * math.exp(-RATE * t), abs=1e-9
    )


@pytest.mark.parametrize("right", ["C", "P"])
def test_greeks_match_finite_differences(right: str) -> None:
    s, k, t, v, q = 100.0, 95.0, 0.25, 0.25, 0.01
    g = black_scholes(right, s, k, t, v, q)
    h = 0.01
    up, down = black_scholes(right, s + h, k, t, v, q), black_scholes(right, s - h, k, t, v, q)
    assert g.delta == pytest.approx((up.price - down.price) / (2 * h), rel=1e-4)
    assert g.gamma == pytest.approx((up.price - 2 * g.price + down.price) / h**2, rel=1e-3)
    vol_up = black_scholes(right, s, k, t, v + 0.01, q)
    assert g.vega == pytest.approx(vol_up.price - g.price, rel=2e-2)  # per vol point
    later = black_scholes(right, s, k, t - 1 / 365, v, q)
    assert g.theta == pytest.approx(later.price - g.price, rel=2e-2)  # per day


def test_at_expiry_the_price_is_intrinsic() -> None:
    assert black_scholes("C", 110.0, 100.0, 0.0, 0.3, 0.0).price == pytest.approx(10.0, abs=1e-3)
    assert black_scholes("P", 110.0, 100.0, 0.0, 0.3, 0.0).price == pytest.approx(0.0, abs=1e-3)


def test_smile_is_skewed_and_term_structure_decays() -> None:
    atm = 0.25
    low, mid, high = (smile_vol(atm, 100.0, k, 0.25, 0.07) for k in (85.0, 100.0, 115.0))
    assert mid == pytest.approx(atm) and low > mid and high != mid
    assert low > high  # puts' wing is richer (equity skew)
    assert atm_vol(0.25, 0.02, 1.0) > atm_vol(0.25, 2.0, 1.0)


def test_quoted_market_brackets_the_model_price() -> None:
    for theo in (0.07, 1.23, 4.56, 37.8):
        bid, ask = bid_ask(theo, 0.5, 0.1)
        assert bid < theo < ask
        tick = 0.01 if theo < 3 else 0.05
        assert round(ask / tick, 6) == round(ask / tick)
    assert bid_ask(0.002, 3.0, 0.1)[0] == -1.0  # nothing bid for a worthless option


@pytest.mark.parametrize("right, strike", [("C", 90.0), ("C", 120.0), ("P", 100.0)])
def test_implied_vol_reprices(right: str, strike: float) -> None:
    price = black_scholes(right, 100.0, strike, 0.3, 0.37, 0.01).price
    assert implied_vol(right, 100.0, strike, 0.3, price, 0.01) == pytest.approx(0.37, abs=1e-4)


def test_no_implied_vol_below_intrinsic() -> None:
    assert implied_vol("C", 100.0, 80.0, 0.1, 19.0, 0.0) is None  # under intrinsic value
    assert implied_vol("P", 100.0, 80.0, 0.1, 90.0, 0.0) is None  # above any volatility
