"""get_history_bars: the underlying's daily bars from clean/ib/history/bar=1d (one file each)."""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl
import pyarrow as pa

from shared.queries import files
from shared.queries.context import ServerContext
from shared.queries.limits import Meta, clamp
from shared.queries.paths import QueryError
from shared.queries.results import Page, table

BARS = ("1d",)  # bar sizes the collector stores (see docs/data-contract.md)
DEFAULT_FIELDS = ["bar_date", "open", "high", "low", "close", "volume"]
KNOWN_FIELDS = (
    "bar_date", "open", "high", "low", "close", "volume", "wap", "bar_count", "conid",
    "source_bar_size", "source_bars",
)  # fmt: skip


def get_history_bars(
    ctx: ServerContext,
    symbol: str,
    start: str | None = None,
    end: str | None = None,
    bar: str = "1d",
    fields: list[str] | None = None,
    limit: int | None = None,
    page: Page | None = None,
) -> dict[str, Any]:
    """Bars between start and end (inclusive), newest last; without dates, the latest `limit`."""
    meta = Meta()
    n = meta.apply(clamp(ctx.limits.rows, limit))
    if not ctx.access.allow_clean:
        raise QueryError("history bars are clean data, disabled on this server (--allow-clean)")
    if bar not in BARS:
        raise QueryError(f"bar must be one of {', '.join(BARS)}; got {bar[:20]!r}")
    sym = ctx.access.symbol(symbol)
    wanted = list(dict.fromkeys(fields)) if fields else list(DEFAULT_FIELDS)
    unknown = [f for f in wanted if f not in KNOWN_FIELDS]
    if unknown:
        raise QueryError(
            f"unknown field(s) {', '.join(unknown)[:80]}: expected some of {', '.join(KNOWN_FIELDS)}"
        )
    first = ctx.access.trade_date(start)
    last = ctx.access.trade_date(end)
    if first and last and first > last:
        raise QueryError(f"start {first} is after end {last}")
    for key, value in (("start", first), ("end", last)):
        if value is not None:
            meta.resolved[key] = value.isoformat()
    path = ctx.access.inside(ctx.layout.history_file(sym, bar), ctx.layout.clean)
    if not path.is_file():
        raise QueryError(
            f"no {bar} history bars for {sym} (run `opt-data history` to collect them)"
        )
    meta.add_source(ctx.access.relative(path))
    try:
        frame = pl.from_arrow(
            files.read_table(path, columns=list(dict.fromkeys(["bar_date", *wanted])))
        )
    except (OSError, pa.ArrowException) as exc:
        raise QueryError(f"{ctx.access.relative(path)} is unreadable: {str(exc)[:200]}") from None
    assert isinstance(frame, pl.DataFrame)
    frame = frame.sort("bar_date")
    stored = _span(frame)
    if first is not None:
        frame = frame.filter(pl.col("bar_date") >= first)
    if last is not None:
        frame = frame.filter(pl.col("bar_date") <= last)
    if first is None and last is None:
        frame = frame.tail(n)  # no range asked: the latest `limit` bars
    rows = table(frame, meta, n, page, wanted)
    return {"symbol": sym, "bar": bar, "stored": stored, "bars": rows, "meta": meta.as_dict()}


def _span(frame: pl.DataFrame) -> dict[str, Any]:
    if frame.is_empty():
        return {"first_date": None, "last_date": None, "bars": 0}
    first: date = frame["bar_date"][0]
    last: date = frame["bar_date"][-1]
    return {"first_date": first.isoformat(), "last_date": last.isoformat(), "bars": frame.height}
