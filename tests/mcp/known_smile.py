"""An exact smile whose 25-delta points and constant-maturity IVs can be worked out by hand.

Spot is 100 on every row. Each expiry has the strikes of DELTAS with these call deltas
(put delta = call delta - 1), and one IV per strike (call and put alike):

    iv(delta) = atm + SLOPE_PUT  * (delta - 0.5)   for call-equivalent delta >= 0.5
    iv(delta) = atm + SLOPE_CALL * (delta - 0.5)   for call-equivalent delta <  0.5

piecewise linear with its kink on a stored strike (K = 100, delta 0.5), so linear
interpolation in delta is exact: iv(0.25) = atm + 0.02 and iv(0.75) = atm + 0.05.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import polars as pl

SPOT = 100.0
# strike -> call delta (OTM side used by the smile: puts below 100, calls from 100 up)
DELTAS = {80.0: 0.95, 85.0: 0.90, 90.0: 0.80, 95.0: 0.65, 100.0: 0.50, 105.0: 0.35,
          110.0: 0.20, 115.0: 0.10, 120.0: 0.05}  # fmt: skip
SLOPE_PUT = 0.20
SLOPE_CALL = -0.08
# days to expiry -> ATM IV
ATM = {20: 0.20, 40: 0.30, 90: 0.25}


def iv_at(atm: float, call_delta: float) -> float:
    slope = SLOPE_PUT if call_delta >= 0.5 else SLOPE_CALL
    return atm + slope * (call_delta - 0.5)


def rows(
    trade_date: date,
    atm: dict[int, float] = ATM,
    strikes: dict[float, float] = DELTAS,
    underlying: str = "KNWN",
    trading_class: str | None = None,
) -> list[dict[str, Any]]:
    out = []
    for days, level in atm.items():
        expiry = trade_date + timedelta(days=days)
        for k, cd in strikes.items():
            # gamma and OI chosen so GEX and the ratios are easy sums (see the tests)
            for right, delta in (("C", cd), ("P", cd - 1.0)):
                out.append({
                    "underlying": underlying, "trading_class": trading_class or underlying,
                    "expiry": expiry, "strike": k, "right": right, "iv": iv_at(level, cd),
                    "delta": delta, "und_price": SPOT, "gamma": 0.01 if k == 100.0 else 0.0,
                    "open_interest": 10 if right == "C" else 30, "multiplier": 100,
                    "volume": 2.0 if right == "C" else 3.0,
                })  # fmt: skip
    return out


def frame(trade_date: date, **kwargs: Any) -> pl.DataFrame:
    return pl.DataFrame(rows(trade_date, **kwargs))
