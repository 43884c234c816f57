"""Metrics of one stored snapshot (one underlying, one date, one slot) and its standard surface.

Input: a polars frame of chain rows with expiry, strike, right, iv, delta, und_price and,
for the flow metrics, volume, open_interest, gamma, multiplier; trading_class is optional.

- spot: the median und_price of the rows (the server's convention everywhere).
- 25-delta risk reversal and butterfly at a tenor, the usual listed-options definitions
  (e.g. Hull, "Options, Futures, and Other Derivatives", ch. on volatility smiles; the FX
  market's 25-delta risk reversal and strangle/butterfly quotes):
      RR25 = sigma(25-delta call) - sigma(25-delta put)
      BF25 = (sigma(25-delta call) + sigma(25-delta put)) / 2 - sigma(ATM)
  each sigma first taken at the delta per expiry (shared.analytics.smile), then at the
  tenor in total variance (shared.analytics.term). ATM is at spot.
- GEX (gamma exposure): gamma x open interest x multiplier x spot^2 x 0.01 per contract,
  dollars per 1% move of the underlying, calls positive and puts negative (dealers long
  calls, short puts); rows without open interest count zero.
- Put/call ratios: summed put volume (open interest) over summed call volume (open interest).

Where an SPX-style root lists two trading classes on one expiry (SPX monthly and SPXW),
each smile uses one class: the one with the most strikes with an IV (ties: the class
named like the underlying); the other is named in the notes, never mixed in.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import polars as pl

from shared.analytics.smile import Smile, StrikeQuote, valid_delta, valid_iv
from shared.analytics.term import EXACT, INTERPOLATED, NOT_REACHED, constant_maturity

TENORS = (7, 30, 60, 90)
SURFACE_TENORS = (7, 14, 30, 60, 90, 180)
SURFACE_DELTAS = (0.10, 0.25, 0.50, 0.75, 0.90)  # call-equivalent: 0.75 is the 25-delta put
SKEW_TENOR = 30


def spot_of(frame: pl.DataFrame) -> float | None:
    if "und_price" not in frame.columns:
        return None
    value = frame["und_price"].drop_nulls().median()
    return float(value) if value is not None else None  # type: ignore[arg-type]


def build_smiles(frame: pl.DataFrame, trade_date: date) -> tuple[list[Smile], list[str]]:
    """One Smile per expiry at or after the trade date, and notes on classes left out."""
    has_class = "trading_class" in frame.columns
    cols = ["expiry", "strike", "right", "iv", "delta"] + (["trading_class"] if has_class else [])
    by_key: dict[tuple[date, str | None], dict[float, dict[str, float | None]]] = {}
    for row in frame.select(cols).iter_rows(named=True):
        expiry, right = row["expiry"], row["right"]
        if expiry is None or expiry < trade_date or right not in ("C", "P"):
            continue
        iv = valid_iv(row["iv"])
        if iv is None:
            continue
        key = (expiry, row.get("trading_class") if has_class else None)
        slot = by_key.setdefault(key, {}).setdefault(float(row["strike"]), {})
        side = "call" if right == "C" else "put"
        slot[f"{side}_iv"] = iv
        slot[f"{side}_delta"] = valid_delta(row["delta"], right)
    underlying = _underlying(frame)
    chosen: dict[date, tuple[str | None, dict[float, dict[str, float | None]]]] = {}
    notes = []
    for (expiry, cls), strikes in sorted(by_key.items(), key=lambda kv: (kv[0][0], str(kv[0][1]))):
        if expiry in chosen:
            other_cls, other = chosen[expiry]
            keep_new = (len(strikes), cls == underlying) > (len(other), other_cls == underlying)
            dropped = other_cls if keep_new else cls
            if keep_new:
                chosen[expiry] = (cls, strikes)
            notes.append(f"{expiry}: trading class {dropped} left out (one class per smile)")
        else:
            chosen[expiry] = (cls, strikes)
    smiles = [
        Smile(
            expiry=expiry,
            days=(expiry - trade_date).days,
            trading_class=cls,
            strikes=tuple(StrikeQuote(k, **q) for k, q in sorted(strikes.items())),  # type: ignore[arg-type]
        )
        for expiry, (cls, strikes) in sorted(chosen.items())
    ]
    return smiles, notes


def _underlying(frame: pl.DataFrame) -> str | None:
    if "underlying" in frame.columns and frame.height:
        return str(frame["underlying"][0])
    return None


def gex_expr(spot: float) -> pl.Expr:
    """Per row: gamma x OI x multiplier (100 when unknown) x spot^2 x 0.01, puts negative."""
    sign = pl.when(pl.col("right") == "C").then(1.0).otherwise(-1.0)
    mult = pl.col("multiplier").fill_null(100).cast(pl.Float64)
    return (
        sign
        * pl.col("gamma")
        * pl.col("open_interest").cast(pl.Float64)
        * mult
        * spot
        * spot
        * 0.01
    )


def gex_total(frame: pl.DataFrame, spot: float) -> float | None:
    """Total GEX; None when no row has both gamma and open interest (a snapshot taken
    before open interest arrived): unknown, not zero."""
    if frame.select(gex_expr(spot).is_not_null().any()).item() is not True:
        return None
    total = frame.select(gex_expr(spot).sum()).item()
    return float(total or 0.0)


def put_call_ratios(frame: pl.DataFrame) -> dict[str, float | None]:
    def total(col: str, right: str) -> float:
        return float(frame.filter(pl.col("right") == right)[col].sum() or 0.0)

    out: dict[str, float | None] = {}
    for col, name in (("volume", "pc_volume_ratio"), ("open_interest", "pc_oi_ratio")):
        calls = total(col, "C")
        out[name] = total(col, "P") / calls if calls else None
    return out


def _tenor_points(smiles: Sequence[Smile], value: Any) -> list[tuple[float, float]]:
    points = []
    for s in smiles:
        v = value(s)
        if v is not None and s.days > 0:
            points.append((float(s.days), v))
    return points


def snapshot_metrics(
    frame: pl.DataFrame,
    trade_date: date,
    tenors: Sequence[int] = TENORS,
    skew_tenor: int = SKEW_TENOR,
) -> dict[str, Any]:
    """The time-series row of one snapshot; a value the strikes do not reach is None."""
    spot = spot_of(frame)
    row: dict[str, Any] = {"spot": spot}
    notes: list[str] = []
    if spot is None:
        row.update({f"atm_iv_{t}d": None for t in tenors})
        row.update({"rr25": None, "bf25": None, "total_gex": None})
        row.update(put_call_ratios(frame))
        return {"row": row, "notes": ["no und_price: no ATM, skew or GEX"]}
    smiles, class_notes = build_smiles(frame, trade_date)
    atm_points = _tenor_points(smiles, lambda s: s.atm_iv(spot))
    for t in tenors:
        row[f"atm_iv_{t}d"], how = constant_maturity(t, atm_points)
        if how == NOT_REACHED:
            notes.append(f"atm_iv_{t}d: not reached ({_span(atm_points)})")
    call25, _ = constant_maturity(
        skew_tenor, _tenor_points(smiles, lambda s: s.iv_at_delta(spot, 0.25))
    )
    put25, _ = constant_maturity(
        skew_tenor, _tenor_points(smiles, lambda s: s.iv_at_delta(spot, 0.75))
    )
    atm, _ = constant_maturity(skew_tenor, atm_points)
    if call25 is None or put25 is None or atm is None:
        row["rr25"] = row["bf25"] = None
        notes.append(
            f"rr25/bf25 at {skew_tenor}d: the stored strikes do not reach the 25-delta "
            f"{'call' if call25 is None else 'put' if put25 is None else 'ATM'} point"
        )
    else:
        row["rr25"] = call25 - put25
        row["bf25"] = (call25 + put25) / 2 - atm
    row["total_gex"] = gex_total(frame, spot)
    if row["total_gex"] is None:
        notes.append(
            "total_gex: no row has both gamma and open interest (daily_clean has it after enrichment)"
        )
    row.update(put_call_ratios(frame))
    return {"row": row, "notes": class_notes + notes}


def _span(points: Sequence[tuple[float, float]]) -> str:
    if not points:
        return "no expiry has an ATM IV"
    days = sorted(d for d, _ in points)
    return f"expiries span {days[0]:g}-{days[-1]:g} days"


def standard_surface(
    frame: pl.DataFrame,
    trade_date: date,
    deltas: Sequence[float] = SURFACE_DELTAS,
    tenors: Sequence[int] = SURFACE_TENORS,
    extrapolate: bool = True,
) -> dict[str, Any]:
    """IV at fixed call-equivalent deltas by fixed tenors, each point flagged how it was made.

    Flags: exact (an expiry at the tenor, the delta interpolated between stored strikes),
    interpolated (in total variance between expiries), extrapolated (flat volatility past
    the first or last expiry that reaches the delta), not_reached (no stored expiry
    reaches the delta, or spot is unknown: iv is None).
    """
    spot = spot_of(frame)
    smiles, notes = build_smiles(frame, trade_date) if spot is not None else ([], [])
    grid: list[list[float | None]] = []
    flags: list[list[str]] = []
    for t in tenors:
        row_iv, row_flag = [], []
        for d in deltas:
            points = (
                _tenor_points(smiles, lambda s, d=d: s.iv_at_delta(spot, d))  # type: ignore[misc]
                if spot is not None
                else []
            )
            iv, how = constant_maturity(t, points, extrapolate=extrapolate)
            row_iv.append(iv)
            row_flag.append(how)
        grid.append(row_iv)
        flags.append(row_flag)
    by_expiry = {
        "expiry": [s.expiry.isoformat() for s in smiles],
        "days": [s.days for s in smiles],
        "trading_class": [s.trading_class for s in smiles],
        "atm_iv": [s.atm_iv(spot) for s in smiles] if spot is not None else [],
        "delta_min": [(s.delta_span(spot) or (None, None))[0] for s in smiles] if spot else [],
        "delta_max": [(s.delta_span(spot) or (None, None))[1] for s in smiles] if spot else [],
    }
    for d in deltas:
        by_expiry[f"iv_d{round(d * 100)}"] = (
            [s.iv_at_delta(spot, d) for s in smiles] if spot is not None else []
        )
    missing = [
        f"{round(d * 100)}-delta"
        for j, d in enumerate(deltas)
        if all(flags[i][j] == NOT_REACHED for i in range(len(tenors)))
    ]
    if spot is None:
        notes.append("no und_price: the surface cannot be placed")
    elif missing:
        notes.append(
            f"no stored expiry reaches the {', '.join(missing)} point: widen the strikes collected"
        )
    return {
        "spot": spot,
        "deltas": list(deltas),
        "tenors": list(tenors),
        "iv": grid,
        "how": flags,
        "by_expiry": by_expiry,
        "notes": notes,
    }


__all__ = [
    "EXACT",
    "INTERPOLATED",
    "NOT_REACHED",
    "SKEW_TENOR",
    "SURFACE_DELTAS",
    "SURFACE_TENORS",
    "TENORS",
    "build_smiles",
    "gex_expr",
    "gex_total",
    "put_call_ratios",
    "snapshot_metrics",
    "spot_of",
    "standard_surface",
]
