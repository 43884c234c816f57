"""The spot-crossing gamma flip: the underlying price at which total dealer GEX is zero.

Method (the "zero gamma level" of SqueezeMetrics' white paper "Gamma Exposure", 2017, and
of most public GEX dashboards): keep each contract's implied volatility, open interest and
time to expiry; re-price its Black-Scholes gamma at hypothetical spots S on a grid of
spot x [0.8, 1.2]; total GEX(S) = sum(sign x gamma(S) x OI x multiplier x S^2 x 0.01) with
calls + and puts -. The flip is where GEX(S) changes sign, linearly interpolated between
grid points; the crossing nearest the observed spot is reported. Rates and dividends are
taken as zero (their effect on gamma is second order over the grid), time to expiry is
calendar days / 365 with at least half a day, and contracts without IV, gamma or OI are
left out (counted in `flip_contracts`).

This differs from gamma_flip_strike (cumulative GEX by strike at today's spot): that one
says where, across strikes, dealer gamma changes sign; this one where it would change
sign if the underlying moved there.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Any

import numpy as np
import polars as pl

GRID_POINTS = 401
GRID_WIDTH = 0.2  # +-20% of spot
MIN_YEARS = 0.5 / 365


def gex_curve(
    frame: pl.DataFrame, spot: float, trade_date: date
) -> tuple[np.ndarray, np.ndarray, int]:
    """(spots, total GEX at each, contracts used) over spot x [1-GRID_WIDTH, 1+GRID_WIDTH]."""
    usable = frame.filter(
        pl.col("iv").is_not_null() & (pl.col("iv") > 0) & pl.col("open_interest").is_not_null()
    )
    grid = spot * np.linspace(1 - GRID_WIDTH, 1 + GRID_WIDTH, GRID_POINTS)
    if usable.is_empty():
        return grid, np.zeros_like(grid), 0
    strike = usable["strike"].to_numpy().astype(float)
    iv = usable["iv"].to_numpy().astype(float)
    oi = usable["open_interest"].to_numpy().astype(float)
    mult = usable["multiplier"].fill_null(100).to_numpy().astype(float)
    sign = np.where(usable["right"].to_numpy() == "C", 1.0, -1.0)
    dte = usable.select((pl.col("expiry") - pl.lit(trade_date)).dt.total_days()).to_series()
    days = dte.to_numpy().astype(float)
    years = np.maximum(days / 365.0, MIN_YEARS)
    s = grid[:, None]
    vol_t = iv * np.sqrt(years)
    d1 = (np.log(s / strike) + 0.5 * iv * iv * years) / vol_t
    gamma = np.exp(-0.5 * d1 * d1) / (math.sqrt(2 * math.pi) * s * vol_t)
    total = (sign * gamma * oi * mult).sum(axis=1) * grid * grid * 0.01
    return grid, total, usable.height


def zero_gamma_spot(frame: pl.DataFrame, spot: float, trade_date: date) -> dict[str, Any]:
    """{'zero_gamma_spot': S or None, 'flip_contracts': n, 'flip_search': [low, high]}."""
    grid, total, used = gex_curve(frame, spot, trade_date)
    out: dict[str, Any] = {
        "zero_gamma_spot": None,
        "flip_contracts": used,
        "flip_search": [round(float(grid[0]), 4), round(float(grid[-1]), 4)],
    }
    signs = np.sign(total)
    crossings = np.nonzero(signs[:-1] * signs[1:] < 0)[0]
    if used == 0 or crossings.size == 0:
        return out
    levels = []
    for i in crossings:
        a, b = total[i], total[i + 1]
        levels.append(grid[i] + (grid[i + 1] - grid[i]) * a / (a - b))
    nearest = min(levels, key=lambda x: abs(x - spot))
    out["zero_gamma_spot"] = round(float(nearest), 4)
    return out
