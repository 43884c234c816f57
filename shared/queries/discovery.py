"""What is stored: underlyings with their date ranges, sessions and slots per view, expiries.

The first two answer from the ledger (one indexed read each, no directory listing); the
third reads four columns of one partition.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl

from shared.calendar import get_session, sessions_between, today_et
from shared.queries import nearest
from shared.queries.context import ServerContext
from shared.queries.frames import partition_info, read_partition, resolve_partition
from shared.queries.limits import Meta, clamp
from shared.queries.paths import EARLIEST_DATE, QueryError
from shared.queries.results import Page, records_table, table

MAX_MISSING_LISTED = 20


def list_underlyings(
    ctx: ServerContext,
    view: str | None = None,
    limit: int | None = None,
    page: Page | None = None,
) -> dict[str, Any]:
    meta = Meta()
    n = meta.apply(clamp(ctx.limits.underlyings, limit))
    views = ctx.access.views_or_all(view)
    meta.add_source("ledger:partitions")
    ranges = [r for r in ctx.ledger.underlying_ranges(view) if r["view"] in views]
    universe = set(ctx.universe_close) | set(ctx.universe_intraday)
    stored = {r["underlying"] for r in ranges}
    not_stored = sorted(universe - stored)
    if not_stored:
        meta.notes.append(
            f"{len(not_stored)} universe symbols have no data yet: {', '.join(not_stored[:10])}"
            + (", ..." if len(not_stored) > 10 else "")
        )
    rows = records_table(ranges, meta, n, page)
    return {
        "views": list(views),
        "underlyings_stored": len(stored),
        "underlyings": rows,
        "meta": meta.as_dict(),
    }


def list_sessions(
    ctx: ServerContext,
    view: str | None = None,
    symbol: str | None = None,
    start: str | None = None,
    end: str | None = None,
    limit: int | None = None,
    page: Page | None = None,
) -> dict[str, Any]:
    meta = Meta()
    n = meta.apply(clamp(ctx.limits.sessions, limit))
    v = ctx.access.view(view) if view else ctx.access.views_or_all(None)[-1]
    sym = ctx.access.symbol(symbol) if symbol else None
    first = ctx.access.trade_date(start) or EARLIEST_DATE
    last = ctx.access.trade_date(end) or today_et()
    if first > last:
        raise QueryError(f"start {first} is after end {last}")
    meta.resolved.update({"view": v, "start": first.isoformat(), "end": last.isoformat()})
    meta.add_source("ledger:partitions")
    by_day: dict[str, dict[str, Any]] = {}
    for r in ctx.ledger.session_slots(v, sym, first, last):
        day = by_day.setdefault(
            r["trade_date"], {"date": r["trade_date"], "slots": [], "partitions": 0, "rows": 0}
        )
        if r["slot"]:
            day["slots"].append(r["slot"])
        day["partitions"] += int(r["partitions"])
        day["rows"] += int(r["rows"] or 0)
    days = list(by_day.values())
    if not days and sym is not None and ctx.ledger.latest_date(v, sym) is None:
        raise nearest.missing_symbol(ctx, v, sym)  # a typo is named, not an empty table
    for d in days:
        session = get_session(date.fromisoformat(d["date"]))
        d["early_close"] = bool(session and session.early_close)
    rows = records_table(days, meta, n, page)
    out: dict[str, Any] = {"view": v, "symbol": sym, "sessions": rows}
    if days:
        out["missing_sessions"] = _missing(days, meta)
    out["meta"] = meta.as_dict()
    return out


def _missing(days: list[dict[str, Any]], meta: Meta) -> list[str]:
    """XNYS sessions between the first and last stored date that hold nothing."""
    stored = {d["date"] for d in days}
    lo, hi = date.fromisoformat(min(stored)), date.fromisoformat(max(stored))
    missing = [s.trade_date.isoformat() for s in sessions_between(lo, hi)]
    missing = [d for d in missing if d not in stored]
    if len(missing) > MAX_MISSING_LISTED:
        meta.notes.append(
            f"{len(missing)} sessions without data; the newest {MAX_MISSING_LISTED} listed"
        )
    return missing[-MAX_MISSING_LISTED:][::-1]


def list_expiries(
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
    part = resolve_partition(ctx, symbol, day, view, slot, meta)
    cols = ["expiry", "trading_class", "strike", "right", "und_price"]
    frame = read_partition(ctx, part, cols, meta)
    spot = frame["und_price"].drop_nulls().median()
    per = (
        frame.with_columns(pl.col("trading_class").fill_null(part.symbol))
        .group_by(["expiry", "trading_class"])
        .agg(
            pl.col("strike").n_unique().alias("strikes"),
            pl.col("strike").min().alias("strike_min"),
            pl.col("strike").max().alias("strike_max"),
            (pl.col("right") == "C").sum().alias("calls"),
            (pl.col("right") == "P").sum().alias("puts"),
        )
        .with_columns((pl.col("expiry") - pl.lit(part.trade_date)).dt.total_days().alias("dte"))
        .select(
            [
                "expiry",
                "trading_class",
                "dte",
                "strikes",
                "strike_min",
                "strike_max",
                "calls",
                "puts",
            ]
        )
        .sort(["expiry", "trading_class"])
    )
    return {
        "partition": partition_info(part),
        "spot": round(float(spot), 6) if spot is not None else None,  # type: ignore[arg-type]
        "contracts": frame.height,
        "expiries": table(per, meta, n, page),
        "meta": meta.as_dict(),
    }
