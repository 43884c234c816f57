"""shared.analytics on the exact smile of tests/mcp/known_smile.py, against values worked by hand.

Every expected number below is written out from the definitions (VIX white paper total
variance interpolation; RR25 = s25c - s25p; BF25 = (s25c + s25p)/2 - s_atm), not taken
from the code under test.
"""

from __future__ import annotations

import math
from datetime import date

import polars as pl
import pytest

from shared.analytics.smile import Smile, StrikeQuote
from shared.analytics.snapshot import build_smiles, snapshot_metrics, standard_surface
from shared.analytics.term import constant_maturity
from tests.mcp import known_smile as ks

DAY = date(2026, 11, 20)


def tv(s1: float, d1: float, s2: float, d2: float, t: float) -> float:
    """By hand: total variance linear in time, then back to a volatility."""
    w1, w2 = s1 * s1 * d1, s2 * s2 * d2
    return math.sqrt((w1 + (w2 - w1) * (t - d1) / (d2 - d1)) / t)


def test_hand_values_of_the_total_variance_rule() -> None:
    # 20d at 20%, 40d at 30%: w(30) = (0.04*20 + 0.09*40) / 2 = 2.2 (vol^2 x days)
    assert tv(0.20, 20, 0.30, 40, 30) == pytest.approx(math.sqrt(2.2 / 30))
    assert math.sqrt(2.2 / 30) == pytest.approx(0.2708013, abs=1e-7)


def test_constant_maturity_atm_ivs() -> None:
    out = snapshot_metrics(ks.frame(DAY), DAY)
    row = out["row"]
    assert row["spot"] == 100.0
    assert row["atm_iv_7d"] is None  # the first expiry is 20 days out: not invented
    assert any("atm_iv_7d: not reached" in n for n in out["notes"])
    assert row["atm_iv_30d"] == pytest.approx(0.2708013, abs=1e-7)
    # 40d at 30%, 90d at 25%: w(60) = 3.6 + (5.625 - 3.6) * 20/50 = 4.41
    assert row["atm_iv_60d"] == pytest.approx(math.sqrt(4.41 / 60), abs=1e-9)
    assert row["atm_iv_90d"] == pytest.approx(0.25)


def test_25_delta_risk_reversal_and_butterfly() -> None:
    row = snapshot_metrics(ks.frame(DAY), DAY)["row"]
    # per expiry: s25c = atm + 0.02 (between the 0.20 and 0.35 strikes), s25p = atm + 0.05
    s25c = tv(0.22, 20, 0.32, 40, 30)  # = sqrt(2.532 / 30)
    s25p = tv(0.25, 20, 0.35, 40, 30)  # = sqrt(3.075 / 30)
    assert s25c == pytest.approx(math.sqrt(2.532 / 30)) and s25p == pytest.approx(
        0.320156, abs=1e-6
    )
    assert row["rr25"] == pytest.approx(s25c - s25p, abs=1e-12)
    assert row["bf25"] == pytest.approx((s25c + s25p) / 2 - math.sqrt(2.2 / 30), abs=1e-12)


def test_gex_and_put_call_ratios() -> None:
    row = snapshot_metrics(ks.frame(DAY), DAY)["row"]
    # only K=100 has gamma 0.01: per expiry, calls 0.01 * 10 OI * 100 * 100^2 * 0.01 = +1,000
    # and puts 0.01 * 30 * 100 * 100^2 * 0.01 = -3,000; three expiries
    assert row["total_gex"] == pytest.approx(3 * (1_000.0 - 3_000.0))
    assert row["pc_volume_ratio"] == pytest.approx(1.5)
    assert row["pc_oi_ratio"] == pytest.approx(3.0)


def test_unreached_deltas_are_said_not_invented() -> None:
    near = {95.0: 0.65, 100.0: 0.50, 105.0: 0.35}
    out = snapshot_metrics(ks.frame(DAY, strikes=near), DAY)
    assert out["row"]["rr25"] is None and out["row"]["bf25"] is None
    assert out["row"]["atm_iv_30d"] == pytest.approx(0.2708013, abs=1e-7)
    assert any("do not reach the 25-delta" in n for n in out["notes"])
    surf = standard_surface(ks.frame(DAY, strikes=near), DAY)
    j25 = surf["deltas"].index(0.25)
    assert all(r[j25] is None for r in surf["iv"])
    assert all(f[j25] == "not_reached" for f in surf["how"])
    assert any("25-delta" in n for n in surf["notes"])


def test_standard_surface_points_and_flags() -> None:
    surf = standard_surface(ks.frame(DAY), DAY, tenors=(7, 20, 30, 60, 90, 180))
    ix = {t: i for i, t in enumerate(surf["tenors"])}
    jx = {d: j for j, d in enumerate(surf["deltas"])}
    # 7d: before the first expiry: flat volatility of the 20d expiry, flagged
    assert surf["how"][ix[7]][jx[0.25]] == "extrapolated"
    assert surf["iv"][ix[7]][jx[0.25]] == pytest.approx(0.22)
    # 20d is a stored expiry: exact; 10-delta call = 20% - 0.08 * (0.10 - 0.5) = 23.2%
    assert surf["how"][ix[20]][jx[0.10]] == "exact"
    assert surf["iv"][ix[20]][jx[0.10]] == pytest.approx(0.232)
    assert surf["iv"][ix[20]][jx[0.90]] == pytest.approx(0.20 + 0.20 * 0.40)
    # 30d 50-delta: the ATM strikes (delta 0.5 is K = spot here)
    assert surf["how"][ix[30]][jx[0.50]] == "interpolated"
    assert surf["iv"][ix[30]][jx[0.50]] == pytest.approx(0.2708013, abs=1e-7)
    assert surf["iv"][ix[30]][jx[0.75]] == pytest.approx(tv(0.25, 20, 0.35, 40, 30))
    assert surf["how"][ix[180]][jx[0.50]] == "extrapolated"
    assert surf["iv"][ix[180]][jx[0.50]] == pytest.approx(0.25)
    by = surf["by_expiry"]
    assert by["days"] == [20, 40, 90]
    assert by["iv_d25"] == pytest.approx([0.22, 0.32, 0.27])


def test_surface_without_extrapolation_refuses_outside_tenors() -> None:
    surf = standard_surface(ks.frame(DAY), DAY, tenors=(7, 180), extrapolate=False)
    assert surf["iv"] == [[None] * 5, [None] * 5]


def test_atm_at_spot_between_strikes_interpolates_in_log_moneyness() -> None:
    smile = Smile(DAY, 30, (StrikeQuote(100.0, 0.20, 0.20), StrikeQuote(105.0, 0.25, 0.23)))
    x0, x1 = math.log(100 / 102), math.log(105 / 102)
    by_hand = 0.20 + (0.24 - 0.20) * (0 - x0) / (x1 - x0)
    assert smile.atm_iv(102.0) == pytest.approx(by_hand)
    assert smile.atm_iv(99.0) is None  # spot below every strike: not reached


def test_two_trading_classes_on_one_expiry_are_never_mixed() -> None:
    monthly = ks.rows(DAY, atm={20: 0.40}, strikes={95.0: 0.65, 100.0: 0.5}, underlying="SPX")
    weekly = ks.rows(DAY, atm={20: 0.20}, underlying="SPX", trading_class="SPXW")
    smiles, notes = build_smiles(pl.DataFrame(monthly + weekly), DAY)
    assert [s.trading_class for s in smiles] == ["SPXW"]  # more strikes with an IV
    assert smiles[0].atm_iv(100.0) == pytest.approx(0.20)
    assert notes == [f"{date(2026, 12, 10)}: trading class SPX left out (one class per smile)"]


def test_constant_maturity_edges() -> None:
    assert constant_maturity(30, []) == (None, "not_reached")
    assert constant_maturity(30, [(0, 0.5), (30, 0.2)]) == (0.2, "exact")
    assert constant_maturity(10, [(0, 0.5), (30, 0.2)]) == (None, "not_reached")
    assert constant_maturity(10, [(30, 0.2)], extrapolate=True) == (0.2, "extrapolated")
