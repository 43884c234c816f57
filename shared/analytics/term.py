"""Constant-maturity implied volatility, interpolated linearly in total variance.

Source: Cboe, "Cboe Volatility Index (VIX) White Paper", step 3: the 30-day VIX blends
the near- and next-term variances weighted by time, i.e. total variance w = sigma^2 * T is
linear in T between the two expiries around the target, and sigma(T*) = sqrt(w(T*) / T*).
The same rule serves any target tenor. Time is calendar days / 365 (the white paper
counts minutes; stored rows carry a trade date, not the settlement minute).

Outside the stored expiries the value is either refused (None) or, when the caller asks
for it, extrapolated flat in volatility (sigma of the nearest expiry), and flagged so.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

EXACT = "exact"
INTERPOLATED = "interpolated"
EXTRAPOLATED = "extrapolated"
NOT_REACHED = "not_reached"  # the stored data does not reach this point


def constant_maturity(
    target_days: float, points: Sequence[tuple[float, float]], extrapolate: bool = False
) -> tuple[float | None, str]:
    """sigma at `target_days` from (days, sigma) points; returns (sigma, how).

    Points with days <= 0 (expiring today) carry no total variance and are ignored.
    """
    pts = sorted((float(d), float(s)) for d, s in points if d > 0 and s > 0)
    if not pts:
        return None, NOT_REACHED
    for d, s in pts:
        if d == target_days:
            return s, EXACT
    if target_days < pts[0][0] or target_days > pts[-1][0]:
        if not extrapolate:
            return None, NOT_REACHED
        nearest = pts[0] if target_days < pts[0][0] else pts[-1]
        return nearest[1], EXTRAPOLATED
    for (d1, s1), (d2, s2) in itertools.pairwise(pts):
        if d1 < target_days < d2:
            w1, w2 = s1 * s1 * d1, s2 * s2 * d2
            w = w1 + (w2 - w1) * (target_days - d1) / (d2 - d1)
            return (math.sqrt(w / target_days) if w > 0 else None), INTERPOLATED
    return None, NOT_REACHED  # unreachable: target lies inside the sorted points
