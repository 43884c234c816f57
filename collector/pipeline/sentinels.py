"""IB's "not computed" sentinels -> null: the one cleaner for snapshots, streaming, enrichment.

IB marks a value it has not computed with a sentinel instead of leaving it out: -1 for
prices, sizes and implied volatility, -2 for the greeks, and Double.MAX_VALUE
(1.7976931348623157e308) for unset doubles (EClient/EDecoder; TWS API "Option Greeks"
page: "a value of -2 means not computed" for the greeks, -1 for the IV). ib_async maps only
some of them to None (iv only when exactly -1; vega/theta -2 pass through as -2.0), so
every value is cleaned here: NaN, +-inf, DBL_MAX, the field's sentinel and values outside
the field's possible range become null. The data contract forbids storing them as numbers.
"""

from __future__ import annotations

import math

from collector.ib.types import Greeks, QuoteSnapshot

DBL_MAX_THRESHOLD = 1e300
GREEK_FIELDS = ("iv", "delta", "gamma", "vega", "theta")
MODEL_FIELDS = (*GREEK_FIELDS, "model_price", "pv_dividend", "und_price")


def finite(x: float | None) -> float | None:
    """None for None, NaN, infinities and DBL_MAX-like 'unset' values."""
    if x is None:
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    if math.isnan(v) or math.isinf(v) or abs(v) >= DBL_MAX_THRESHOLD:
        return None
    return v


def clean_model_value(name: str, x: float | None) -> float | None:
    """One option-computation field, or None when it is a sentinel or impossible."""
    v = finite(x)
    if v is None:
        return None
    if name == "delta":
        return v if -1.0 <= v <= 1.0 else None  # -2 is the sentinel
    if name == "theta":
        return None if v == -2.0 else v  # theta is legitimately negative
    if name in ("gamma", "vega"):
        return v if v >= 0.0 else None  # -2 sentinel; never negative
    if name == "iv":
        return v if v >= 0.0 else None  # -1 sentinel
    # model_price, pv_dividend, und_price: -1 sentinel; never negative
    return v if v >= 0.0 else None


def clean_price(x: float | None) -> float | None:
    """Quote prices: IB's -1 'no bid/ask' and non-finite values become None."""
    v = finite(x)
    if v is None or v < 0:
        return None
    return v


def clean_size(x: float | None) -> float | None:
    v = finite(x)
    if v is None or v < 0:
        return None
    return v


def clean_greeks(g: Greeks | None) -> tuple[dict[str, float | None], bool]:
    """(cleaned values, whether any received value was a sentinel)."""
    if g is None:
        return {name: None for name in MODEL_FIELDS}, False
    out: dict[str, float | None] = {}
    sentinel = False
    for name in MODEL_FIELDS:
        raw = getattr(g, name)
        value = clean_model_value(name, raw)
        out[name] = value
        # A field the library already mapped to None came from a sentinel too.
        if value is None:
            sentinel = True
    return out, sentinel


def open_interest_of(quote: QuoteSnapshot, right: str) -> int | None:
    v = finite(quote.call_open_interest if right == "C" else quote.put_open_interest)
    return None if v is None or v < 0 else round(v)
