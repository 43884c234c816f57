"""Analysis an options analyst asks for, each over one partition file.

Conventions (documented in docs/mcp.md, "Conventions"):
- `spot` is the median und_price of the partition's rows (one slot, or the day's rolled-up
  rows for daily_clean);
- contracts are grouped by (expiry, trading_class, strike): SPX monthlies (AM-settled) and
  SPXW weeklies (PM-settled) can share an expiry and a strike and are different options;
- gamma exposure (GEX) is dollar gamma per 1% move, gamma x OI x multiplier x spot^2 x 0.01,
  positive for calls and negative for puts (dealers long calls, short puts), summed over
  classes at a strike (all are options on the same underlying);
- gamma_flip_strike is the first strike, going up, where cumulative net GEX changes sign;
  zero_gamma_spot (see flip.py) is the spot level where total GEX, re-priced there, is zero.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from shared.analytics.snapshot import gex_expr
from shared.queries.chain import check_class, check_expiry
from shared.queries.context import ServerContext
from shared.queries.flip import zero_gamma_spot
from shared.queries.frames import (
    one_row_per_contract,
    partition_info,
    read_partition,
    repeated_rows_note,
    resolve_partition,
    to_records,
)
from shared.queries.limits import Meta, clamp
from shared.queries.paths import QueryError
from shared.queries.results import Page, table

BASE = ["conid", "expiry", "strike", "right", "trading_class", "und_price"]


def _load(
    ctx: ServerContext,
    symbol: str,
    day: str | None,
    view: str,
    slot: str | None,
    columns: list[str],
    meta: Meta,
) -> tuple[Any, pl.DataFrame, float | None]:
    part = resolve_partition(ctx, symbol, day, view, slot, meta)
    frame = read_partition(ctx, part, list(dict.fromkeys(BASE + columns)), meta)
    frame, repeated = one_row_per_contract(frame)
    if repeated:
        meta.notes.append(repeated_rows_note(repeated))
    frame = frame.with_columns(pl.col("trading_class").fill_null(symbol.upper()))
    spot = frame["und_price"].drop_nulls().median() if "und_price" in frame.columns else None
    meta.extra["file_rows"] = frame.height
    return part, frame, round(float(spot), 6) if spot is not None else None  # type: ignore[arg-type]


def _pivot_rights(frame: pl.DataFrame, keys: list[str], values: list[str]) -> pl.DataFrame:
    """One row per key with call_<v> and put_<v> columns."""
    aggs = []
    for v in values:
        for right, prefix in (("C", "call"), ("P", "put")):
            aggs.append(pl.col(v).filter(pl.col("right") == right).first().alias(f"{prefix}_{v}"))
    return frame.group_by(keys).agg(aggs).sort(keys)


def iv_smile(
    ctx: ServerContext,
    symbol: str,
    expiry: str | None = None,
    day: str | None = None,
    view: str = "daily_clean",
    slot: str | None = None,
    trading_class: str | None = None,
    limit: int | None = None,
    page: Page | None = None,
) -> dict[str, Any]:
    meta = Meta()
    n = meta.apply(clamp(ctx.limits.rows, limit))
    part, frame, spot = _load(ctx, symbol, day, view, slot, ["iv", "delta"], meta)
    with_iv = frame.filter(pl.col("iv").is_not_null())
    tc = check_class(trading_class)
    if tc is not None:
        with_iv = with_iv.filter(pl.col("trading_class") == tc)
    expiries = sorted(set(with_iv["expiry"].to_list()))
    want = check_expiry(expiry)
    if want is None:
        future = [e for e in expiries if e >= part.trade_date]
        if not future:
            raise QueryError(f"no expiry with implied volatility in {symbol} on {part.trade_date}")
        want = future[0]
    elif want not in expiries:
        listed = ", ".join(e.isoformat() for e in expiries[:12])
        raise QueryError(
            f"expiry {want} has no implied volatility in this partition (expiries: {listed})"
        )
    on_expiry = with_iv.filter(pl.col("expiry") == want)
    classes = sorted(on_expiry["trading_class"].unique().to_list())
    smile = _pivot_rights(on_expiry, ["trading_class", "strike"], ["iv", "delta"])
    if spot:
        otm = pl.when(pl.col("strike") < spot).then(pl.col("put_iv")).otherwise(pl.col("call_iv"))
        smile = smile.with_columns(
            (pl.col("strike") / spot).alias("moneyness"),
            (pl.col("strike") / spot).log().alias("log_moneyness"),
            pl.coalesce(otm, pl.col("call_iv"), pl.col("put_iv")).alias("otm_iv"),
        )
        smile = _nearest_strikes(smile, spot, n * max(1, len(classes)), meta)
    if len(classes) > 1:
        meta.notes.append(
            f"{want} is listed by {len(classes)} trading classes ({', '.join(classes)}): each has "
            "its own rows; pass trading_class to keep one"
        )
    return {
        "partition": partition_info(part),
        "expiry": want.isoformat(),
        "trading_classes": classes,
        "spot": spot,
        "expiries": [e.isoformat() for e in expiries],
        "points": table(smile.sort(["trading_class", "strike"]), meta, n * len(classes) or n, page),
        "meta": meta.as_dict(),
    }


def _nearest_strikes(frame: pl.DataFrame, spot: float, n: int, meta: Meta) -> pl.DataFrame:
    """Keep the n strikes nearest spot (when there are more), still sorted by strike."""
    meta.extra["total_available"] = frame.height
    if frame.height <= n:
        return frame
    meta.truncated = True
    # no cursor continues past this cut (the strikes are chosen, not paged): say how to widen it
    meta.notes.append(f"kept the {n} strikes nearest spot of {frame.height}; raise limit for more")
    return frame.sort((pl.col("strike") - spot).abs()).head(n).sort("strike")


def atm_term_structure(
    ctx: ServerContext,
    symbol: str,
    day: str | None = None,
    view: str = "daily_clean",
    slot: str | None = None,
    limit: int | None = None,
    page: Page | None = None,
) -> dict[str, Any]:
    meta = Meta()
    n = meta.apply(clamp(ctx.limits.rows, limit))
    part, frame, spot = _load(ctx, symbol, day, view, slot, ["iv"], meta)
    if spot is None:
        raise QueryError(
            f"no underlying price in {symbol} on {part.trade_date}: cannot find ATM strikes"
        )
    keys = ["expiry", "trading_class", "strike"]
    wide = _pivot_rights(frame.filter(pl.col("iv").is_not_null()), keys, ["iv"])
    atm = (
        wide.with_columns((pl.col("strike") - spot).abs().alias("distance"))
        .sort(["expiry", "trading_class", "distance"])
        .group_by(["expiry", "trading_class"], maintain_order=True)
        .first()
        .with_columns(
            (pl.col("expiry") - pl.lit(part.trade_date)).dt.total_days().alias("dte"),
            pl.mean_horizontal("call_iv", "put_iv").alias("atm_iv"),
        )
        .filter(pl.col("dte") >= 0)
        .select(["expiry", "trading_class", "dte", "strike", "call_iv", "put_iv", "atm_iv"])
        .rename({"strike": "atm_strike"})
    )
    return {
        "partition": partition_info(part),
        "spot": spot,
        "term_structure": table(atm, meta, n, page),
        "meta": meta.as_dict(),
    }


def put_call_ratios(
    ctx: ServerContext,
    symbol: str,
    day: str | None = None,
    view: str = "daily_clean",
    slot: str | None = None,
    by_expiry: bool = True,
    limit: int | None = None,
    page: Page | None = None,
) -> dict[str, Any]:
    meta = Meta()
    n = meta.apply(clamp(ctx.limits.rows, limit))
    part, frame, spot = _load(ctx, symbol, day, view, slot, ["volume", "open_interest"], meta)
    sums = [
        pl.col(c).filter(pl.col("right") == r).sum().alias(f"{p}_{c}")
        for c in ("volume", "open_interest")
        for r, p in (("C", "call"), ("P", "put"))
    ]

    def with_ratios(df: pl.DataFrame) -> pl.DataFrame:
        return df.with_columns(
            (pl.col("put_volume") / pl.col("call_volume")).alias("pc_volume_ratio"),
            (pl.col("put_open_interest") / pl.col("call_open_interest")).alias("pc_oi_ratio"),
        )

    total = to_records(with_ratios(frame.select(sums)))[0]
    oi_missing = frame["open_interest"].null_count()
    if oi_missing:
        meta.notes.append(
            f"{oi_missing} of {frame.height} rows have no open_interest (not yet enriched?)"
        )
    out: dict[str, Any] = {"partition": partition_info(part), "spot": spot, "total": total}
    if by_expiry:
        keys = ["expiry", "trading_class"]
        per = with_ratios(frame.group_by(keys).agg(sums).sort(keys))
        out["by_expiry"] = table(per, meta, n, page)
    else:
        meta.rows = 1
    out["meta"] = meta.as_dict()
    return out


def oi_gamma_by_strike(
    ctx: ServerContext,
    symbol: str,
    day: str | None = None,
    view: str = "daily_clean",
    slot: str | None = None,
    expiry: str | None = None,
    limit: int | None = None,
    page: Page | None = None,
) -> dict[str, Any]:
    meta = Meta()
    n = meta.apply(clamp(ctx.limits.rows, limit))
    part, frame, spot = _load(
        ctx, symbol, day, view, slot, ["gamma", "iv", "open_interest", "multiplier"], meta
    )
    if spot is None:
        raise QueryError(
            f"no underlying price in {symbol} on {part.trade_date}: cannot compute GEX"
        )
    want = check_expiry(expiry)
    if want is not None:
        frame = frame.filter(pl.col("expiry") == want)
        if frame.is_empty():
            raise QueryError(f"expiry {want} is not in {symbol} on {part.trade_date}")
    frame = frame.with_columns(gex_expr(spot).alias("gex"))  # the one GEX rule
    by_strike = (
        frame.group_by("strike")
        .agg(
            pl.col("open_interest").filter(pl.col("right") == "C").sum().alias("call_oi"),
            pl.col("open_interest").filter(pl.col("right") == "P").sum().alias("put_oi"),
            pl.col("gex").filter(pl.col("right") == "C").sum().alias("call_gex"),
            pl.col("gex").filter(pl.col("right") == "P").sum().alias("put_gex"),
        )
        .with_columns((pl.col("call_gex") + pl.col("put_gex")).alias("net_gex"))
        .sort("strike")
    )
    summary = _gex_summary(by_strike)
    summary.update(zero_gamma_spot(frame, spot, part.trade_date))
    shown = _nearest_strikes(by_strike, spot, n, meta)
    rows = table(shown, meta, n, page)
    missing = frame["open_interest"].null_count()
    if missing:
        meta.notes.append(f"{missing} rows without open_interest count as zero")
    return {
        "partition": partition_info(part),
        "spot": spot,
        "expiry": want.isoformat() if want else "all",
        "summary": summary,
        "strikes": rows,
        "meta": meta.as_dict(),
    }


def _gex_summary(by_strike: pl.DataFrame) -> dict[str, Any]:
    if by_strike.is_empty():
        return {}
    cum = by_strike.with_columns(pl.col("net_gex").cum_sum().alias("cum"))
    prev = pl.col("cum").shift(1)
    flips = cum.filter(prev.is_not_null() & (pl.col("cum").sign() != prev.sign()))
    top_call = by_strike.sort("call_oi", descending=True, nulls_last=True).row(0, named=True)
    top_put = by_strike.sort("put_oi", descending=True, nulls_last=True).row(0, named=True)
    return to_records(pl.DataFrame([{
        "total_net_gex": by_strike["net_gex"].sum(),
        "total_call_oi": by_strike["call_oi"].sum(),
        "total_put_oi": by_strike["put_oi"].sum(),
        "max_call_oi_strike": top_call["strike"],
        "max_put_oi_strike": top_put["strike"],
        "gamma_flip_strike": flips["strike"][0] if flips.height else None,
    }]))[0]  # fmt: skip
