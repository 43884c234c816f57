"""Pure transforms: a released quote + its contract -> one snapshot row with flags.

Every number goes through collector.pipeline.sentinels, so IB's "not computed" sentinels
never reach storage; a row whose model values were sentinels is flagged `greeks_sentinel`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import polars as pl
import pyarrow as pa

from collector.ib.types import OptionContract, QuoteSnapshot
from collector.pipeline.delayed import SERVED_DELAYED_COLUMNS, served_delayed
from collector.pipeline.sentinels import (
    GREEK_FIELDS,
    MODEL_FIELDS,
    clean_greeks,
    clean_price,
    clean_size,
    open_interest_of,
)
from shared import schema as S


@dataclass(frozen=True)
class RowContext:
    trade_date: date
    slot: str
    sample_time: datetime  # the slot's scheduled instant, UTC
    ingest_id: str
    underlying: str
    underlying_conid: int | None
    reference_price: float | None
    delayed_fallback: bool = False
    discovery_stale: bool = False  # contracts from an earlier day's cache (discovery failed)


def build_row(
    contract: OptionContract,
    quote: QuoteSnapshot | None,
    ctx: RowContext,
    *,
    timed_out: bool = False,
    no_permission: bool = False,
    missing_reason: str | None = None,
) -> dict[str, Any]:
    """One SNAPSHOT_SCHEMA row; a missing quote still gives a row (all nulls + flags)."""
    flags: list[str] = []
    row: dict[str, Any] = {
        "trade_date": ctx.trade_date,
        "slot": ctx.slot,
        "sample_time": ctx.sample_time,
        "ingest_id": ctx.ingest_id,
        "underlying": ctx.underlying,
        "underlying_conid": ctx.underlying_conid or contract.underlying_conid,
        "conid": contract.conid,
        "local_symbol": contract.local_symbol,
        "trading_class": contract.trading_class,
        "expiry": contract.expiry,
        "strike": contract.strike,
        "right": contract.right,
        "multiplier": contract.multiplier,
        "exchange": contract.exchange,
        "currency": contract.currency,
        "reference_price": ctx.reference_price,
        "open_interest": None,
        "delayed_fallback": ctx.delayed_fallback,
    }
    if quote is None:
        row.update(
            {k: None for k in ("bid", "ask", "last", "mid", "bid_size", "ask_size", "last_size")}
        )
        row.update({k: None for k in ("volume", "close", "market_data_type")})
        row.update({k: None for k in MODEL_FIELDS})
        flags += [S.FLAG_MISSING_QUOTE, S.FLAG_MISSING_GREEKS]
    else:
        bid, ask = clean_price(quote.bid), clean_price(quote.ask)
        row.update(
            bid=bid,
            ask=ask,
            last=clean_price(quote.last),
            bid_size=clean_size(quote.bid_size) if bid is not None else None,
            ask_size=clean_size(quote.ask_size) if ask is not None else None,
            last_size=clean_size(quote.last_size),
            volume=clean_size(quote.volume),
            close=clean_price(quote.close),
            market_data_type=quote.market_data_type,
        )
        crossed = bid is not None and ask is not None and bid > ask
        row["mid"] = (
            (bid + ask) / 2.0 if bid is not None and ask is not None and not crossed else None
        )
        if bid is None or ask is None:
            flags.append(S.FLAG_MISSING_QUOTE)
        if crossed:
            flags.append(S.FLAG_CROSSED)
        model, sentinel = clean_greeks(quote.model)
        row.update(model)
        if any(model[name] is None for name in GREEK_FIELDS):
            flags.append(S.FLAG_MISSING_GREEKS)
        if sentinel and quote.model is not None:
            flags.append(S.FLAG_GREEKS_SENTINEL)
        row["open_interest"] = open_interest_of(quote, contract.right)
        if quote.market_data_type in S.DELAYED_TYPES:
            flags.append(S.FLAG_DELAYED)
    if timed_out:
        flags.append(S.FLAG_TIMEOUT)
    if no_permission:
        flags.append(S.FLAG_NO_PERMISSION)
    if ctx.discovery_stale:
        flags.append(S.FLAG_DISCOVERY_STALE)
    row["data_quality_flags"] = flags
    row["missing_reason"] = missing_reason or _reason(flags)
    return row


def _reason(flags: Sequence[str]) -> str | None:
    for flag in (S.FLAG_NO_PERMISSION, S.FLAG_TIMEOUT, S.FLAG_MISSING_QUOTE, S.FLAG_MISSING_GREEKS):
        if flag in flags:
            return flag
    return None


def rows_to_table(
    rows: Iterable[dict[str, Any]], schema: pa.Schema = S.SNAPSHOT_SCHEMA
) -> pa.Table:
    """Rows -> a table with exactly the schema's columns, sorted by (expiry, strike, right)."""
    table = pa.Table.from_pylist(list(rows), schema=schema)
    if table.num_rows:
        table = table.sort_by([*S.SORT_KEYS, ("conid", "ascending")])
    return table


@dataclass(frozen=True)
class FillStats:
    rows: int
    quote_fill: float | None
    greeks_fill: float | None
    delayed_rows: int
    served_delayed: int | None = None  # QA's delayed rule (qa.served_delayed); None: no columns


def fill_stats(table: pa.Table) -> FillStats:
    """Share of rows with a two-sided quote / complete greeks, delayed rows, and the rows
    QA counts as served delayed (so the checks can take them from the ledger)."""
    n = table.num_rows
    if n == 0:
        return FillStats(0, None, None, 0, 0)
    flags = pl.Series(table.column("data_quality_flags"))
    quote_ok = n - int(flags.list.contains(S.FLAG_MISSING_QUOTE).sum())
    greeks_ok = n - int(flags.list.contains(S.FLAG_MISSING_GREEKS).sum())
    delayed = int(flags.list.contains(S.FLAG_DELAYED).sum())
    served: int | None = None
    if set(SERVED_DELAYED_COLUMNS) <= set(table.column_names):
        frame = pl.DataFrame(table.select(SERVED_DELAYED_COLUMNS))
        served = int(frame.select(served_delayed().sum()).item())
    return FillStats(n, quote_ok / n, greeks_ok / n, delayed, served)


def fill_stats_by_underlying(table: pa.Table) -> dict[str, FillStats]:
    """fill_stats of each underlying's rows, in one pass over a many-underlying table."""
    if table.num_rows == 0:
        return {}
    flags = pl.col("data_quality_flags")
    per = (
        pl.DataFrame(table.select(["underlying", "data_quality_flags"]))
        .group_by("underlying")
        .agg(
            n=pl.len(),
            no_quote=flags.list.contains(S.FLAG_MISSING_QUOTE).sum(),
            no_greeks=flags.list.contains(S.FLAG_MISSING_GREEKS).sum(),
            delayed=flags.list.contains(S.FLAG_DELAYED).sum(),
        )
    )
    return {
        u: FillStats(n, (n - q) / n, (n - g) / n, int(dl)) for u, n, q, g, dl in per.iter_rows()
    }
