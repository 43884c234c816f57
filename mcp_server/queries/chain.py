"""get_chain_sample: rows of one partition file, filtered and capped."""

from __future__ import annotations

import math
from datetime import date
from typing import Any

import polars as pl

from mcp_server.context import ServerContext
from mcp_server.limits import Meta, clamp, take
from mcp_server.paths import QueryError
from mcp_server.queries.frames import (
    Partition,
    partition_info,
    read_partition,
    resolve_partition,
    to_records,
)

DEFAULT_COLUMNS = [
    "trade_date", "slot", "sample_time", "underlying", "conid", "local_symbol", "expiry", "strike",
    "right", "bid", "ask", "last", "mid", "volume", "iv", "delta", "gamma", "vega", "theta",
    "und_price", "open_interest", "market_data_type", "delayed_fallback", "data_quality_flags",
]  # fmt: skip
CLEAN_EXTRA = ["rollup_strategy", "rollup_source_slot", "oi_asof_date"]


def check_expiry(text: str | None) -> date | None:
    if text is None or not text.strip():
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise QueryError(f"expiry must be YYYY-MM-DD, got {text!r}") from None


def check_right(text: str | None) -> str | None:
    if text is None or not text.strip():
        return None
    value = text.strip().upper()
    value = {"CALL": "C", "PUT": "P"}.get(value, value)
    if value not in ("C", "P"):
        raise QueryError(f"right must be 'C' or 'P', got {text!r}")
    return value


def check_strikes(low: float | None, high: float | None) -> tuple[float | None, float | None]:
    for name, v in (("strike_min", low), ("strike_max", high)):
        if v is not None and (not math.isfinite(v) or v < 0):
            raise QueryError(f"{name} must be a non-negative number, got {v}")
    if low is not None and high is not None and low > high:
        raise QueryError(f"strike_min {low} is above strike_max {high}")
    return low, high


def contract_filter(
    expiry: date | None, right: str | None, strike_min: float | None, strike_max: float | None
) -> pl.Expr:
    expr = pl.lit(True)
    if expiry is not None:
        expr &= pl.col("expiry") == expiry
    if right is not None:
        expr &= pl.col("right") == right
    if strike_min is not None:
        expr &= pl.col("strike") >= strike_min
    if strike_max is not None:
        expr &= pl.col("strike") <= strike_max
    return expr


def get_chain_sample(
    ctx: ServerContext,
    symbol: str,
    day: str | None = None,
    view: str = "daily_clean",
    slot: str | None = None,
    expiry: str | None = None,
    right: str | None = None,
    strike_min: float | None = None,
    strike_max: float | None = None,
    columns: list[str] | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    meta = Meta()
    n = meta.apply(clamp(ctx.limits.sample, limit))
    exp, rt = check_expiry(expiry), check_right(right)
    lo, hi = check_strikes(strike_min, strike_max)
    part = resolve_partition(ctx, symbol, day, view, slot)
    wanted = list(dict.fromkeys(columns)) if columns else _default_columns(part)
    filter_cols = ["expiry", "right", "strike"]
    frame = read_partition(ctx, part, list(dict.fromkeys(wanted + filter_cols)), meta)
    total = frame.height
    picked = frame.filter(contract_filter(exp, rt, lo, hi))
    meta.extra["file_rows"] = total
    meta.extra["matching_rows"] = picked.height
    records = to_records(picked.head(n + 1).select([c for c in wanted if c in picked.columns]))
    rows = take(records, n, meta)
    return {
        "partition": partition_info(part),
        "columns": wanted,
        "rows": rows,
        "meta": meta.as_dict(),
    }


def _default_columns(part: Partition) -> list[str]:
    return DEFAULT_COLUMNS + (CLEAN_EXTRA if part.view == "daily_clean" else [])
