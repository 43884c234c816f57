"""One expiry's smile from stored rows: ATM IV at spot and IV at a call-equivalent delta.

Conventions (docs/mcp.md, "Methods of the time-series and surface tools"):
- ATM IV is at the strike equal to spot: the mean of the call and put IV of each strike,
  linearly interpolated in log-moneyness ln(K/S) between the two strikes around spot.
- IV at a delta uses the out-of-the-money side, as quoted on the listed market: puts below
  spot and calls at or above it. A put's delta is turned into a call-equivalent delta
  1 + delta_put (put-call parity of deltas without carry), so 0.25 is the 25-delta call and
  0.75 the 25-delta put. IV is linearly interpolated in that delta between stored strikes.
- Nothing is extrapolated across strikes: a delta outside the stored deltas, or spot
  outside the stored strikes, is "not reached" (None), never invented.
Deltas are IB's model greeks as stored; strikes with no IV (or an IV <= 0) are skipped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class StrikeQuote:
    strike: float
    call_iv: float | None = None
    put_iv: float | None = None
    call_delta: float | None = None
    put_delta: float | None = None


@dataclass(frozen=True)
class Smile:
    """The stored strikes of one expiry (one trading class), sorted by strike."""

    expiry: date
    days: int  # calendar days from the trade date to expiry
    strikes: tuple[StrikeQuote, ...]
    trading_class: str | None = None

    def atm_iv(self, spot: float) -> float | None:
        """IV at K = spot; None when spot is outside the strikes that have an IV."""
        xs, ys = [], []
        for q in self.strikes:
            ivs = [v for v in (q.call_iv, q.put_iv) if v is not None]
            if ivs and q.strike > 0:
                xs.append(math.log(q.strike / spot))
                ys.append(sum(ivs) / len(ivs))
        return interpolate(0.0, xs, ys)

    def delta_curve(self, spot: float) -> list[tuple[float, float]]:
        """(call-equivalent delta, OTM IV) ascending in delta."""
        points: dict[float, float] = {}
        for q in self.strikes:
            if q.strike < spot:
                if q.put_iv is not None and q.put_delta is not None:
                    points[1.0 + q.put_delta] = q.put_iv
            elif q.call_iv is not None and q.call_delta is not None:
                points[q.call_delta] = q.call_iv
        return sorted(points.items())

    def iv_at_delta(self, spot: float, call_delta: float) -> float | None:
        curve = self.delta_curve(spot)
        return interpolate(call_delta, [d for d, _ in curve], [v for _, v in curve])

    def delta_span(self, spot: float) -> tuple[float, float] | None:
        curve = self.delta_curve(spot)
        return (curve[0][0], curve[-1][0]) if curve else None


def interpolate(x: float, xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Linear interpolation on ascending xs; None outside [xs[0], xs[-1]] (no extrapolation)."""
    if not xs or x < xs[0] or x > xs[-1]:
        return None
    for i in range(1, len(xs)):
        if x <= xs[i]:
            x0, x1 = xs[i - 1], xs[i]
            if x1 == x0:
                return ys[i]
            return ys[i - 1] + (ys[i] - ys[i - 1]) * (x - x0) / (x1 - x0)
    return ys[0]  # a single point equal to x


def valid_iv(value: object) -> float | None:
    if value is None:
        return None
    v = float(value)  # type: ignore[arg-type]
    return v if math.isfinite(v) and v > 0 else None


def valid_delta(value: object, right: str) -> float | None:
    if value is None:
        return None
    v = float(value)  # type: ignore[arg-type]
    if not math.isfinite(v):
        return None
    ok = 0.0 < v < 1.0 if right == "C" else -1.0 < v < 0.0
    return v if ok else None
