"""get_chain_sample: rows of one partition file, filtered and capped."""

from __future__ import annotations

import math
from datetime import date
from typing import Any

import polars as pl

from shared.queries.context import ServerContext
from shared.queries.frames import partition_info, read_partition, resolve_partition
from shared.queries.limits import Meta, clamp
from shared.queries.paths import QueryError
from shared.queries.results import Page, table

# The default fields of a chain row: what an agent reads a chain by. The partition's
# date, slot and underlying are stated once in the reply, not repeated per row; und_price
# is the reply's `spot`. Any other column is one `fields` entry away.
DEFAULT_FIELDS = [
    "conid", "expiry", "strike", "right", "bid", "ask", "mid", "volume", "open_interest",
    "iv", "delta", "gamma",
]  # fmt: skip
CLASS_FIELD = "trading_class"  # added by default when a partition holds several classes


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
) -> pl.Expr | None:
    """The filter the arguments ask for, or None when they ask for none."""
    terms = []
    if expiry is not None:
        terms.append(pl.col("expiry") == expiry)
    if right is not None:
        terms.append(pl.col("right") == right)
    if strike_min is not None:
        terms.append(pl.col("strike") >= strike_min)
    if strike_max is not None:
        terms.append(pl.col("strike") <= strike_max)
    return pl.all_horizontal(terms) if terms else None


def check_class(text: str | None) -> str | None:
    if text is None or not text.strip():
        return None
    value = text.strip().upper()
    if not value.replace(".", "").isalnum() or len(value) > 12:
        raise QueryError(f"trading_class must be letters and digits, e.g. SPXW; got {value[:20]!r}")
    return value


def _what_is_stored(frame: pl.DataFrame) -> str:
    """'no row matches the filters; this partition holds expiries ..., strikes lo-hi,
    classes ...': an empty answer with no hint would leave the agent guessing."""
    expiries = sorted(e.isoformat() for e in frame["expiry"].drop_nulls().unique().to_list())
    shown = ", ".join(expiries[:12]) + (
        f", ... ({len(expiries)} expiries)" if len(expiries) > 12 else ""
    )
    strikes = [float(k) for k in frame["strike"].drop_nulls().to_list()]
    span = f"{min(strikes):g}-{max(strikes):g}" if strikes else "none"
    names = (
        frame[CLASS_FIELD].drop_nulls().unique().to_list() if CLASS_FIELD in frame.columns else []
    )
    classes = sorted(c for c in names if c)
    return (
        f"no row matches the filters; this partition holds expiries {shown}, strikes {span}, "
        f"classes {', '.join(classes[:8]) or 'none'} (list_expiries details them)"
    )


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
    trading_class: str | None = None,
    fields: list[str] | None = None,
    limit: int | None = None,
    page: Page | None = None,
) -> dict[str, Any]:
    meta = Meta()
    n = meta.apply(clamp(ctx.limits.sample, limit))
    exp, rt = check_expiry(expiry), check_right(right)
    lo, hi = check_strikes(strike_min, strike_max)
    tc = check_class(trading_class)
    part = resolve_partition(ctx, symbol, day, view, slot, meta)
    wanted = list(dict.fromkeys(fields)) if fields else list(DEFAULT_FIELDS)
    needed = ["expiry", "right", "strike", CLASS_FIELD, "und_price"]
    frame = read_partition(ctx, part, list(dict.fromkeys(wanted + needed)), meta)
    classes = (
        sorted(c for c in frame[CLASS_FIELD].unique().to_list() if c)
        if CLASS_FIELD in frame.columns
        else []
    )
    if not fields and len(classes) > 1:
        wanted.insert(wanted.index("right") + 1, CLASS_FIELD)
    select = contract_filter(exp, rt, lo, hi)
    if tc is not None:
        only = pl.col(CLASS_FIELD) == tc
        select = only if select is None else select & only
    picked = frame if select is None else frame.filter(select)
    meta.extra["file_rows"] = frame.height
    meta.extra["matching_rows"] = picked.height
    spot = frame["und_price"].drop_nulls().median() if "und_price" in frame.columns else None
    if picked.is_empty() and not frame.is_empty():
        meta.notes.append(_what_is_stored(frame))
    rows = table(picked, meta, n, page, [c for c in wanted if c in picked.columns])
    return {
        "partition": partition_info(part),
        "spot": round(float(spot), 6) if spot is not None else None,  # type: ignore[arg-type]
        "trading_classes": classes,
        **rows,
        "meta": meta.as_dict(),
    }
