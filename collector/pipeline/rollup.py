"""Rollup: the day's raw views -> daily_clean, one row per contract (pure, over tables).

Per contract, in order:
  1. `close`             the close view's row when it has a two-sided quote;
  2. `intraday_fallback` else (allow_intraday_fallback) the configured fallback slot's row, if good;
  3. `last_good`         else the latest intraday slot whose row is good;
  4. a close row without a good quote is still kept (`close`) when nothing better exists,
     and with fallback allowed, the latest intraday row (`last_good`) when there is no close row.
"Good" means a two-sided quote (no `missing_quote` flag).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import polars as pl
import pyarrow as pa

from shared import schema as S

STRATEGY_CLOSE, STRATEGY_LAST_GOOD, STRATEGY_FALLBACK = S.ROLLUP_STRATEGIES
KEY = ["underlying", "conid"]  # one daily_clean row per contract of each underlying
OUTPUT_ORDER = ["underlying", "expiry", "strike", "right", "conid"]
# what an earlier daily_clean of the day contributes (open interest already enriched; the
# strategy says which raw views it was built from, collector/pipeline/rollup_inputs.py)
PREVIOUS_COLUMNS = [*KEY, "open_interest", "oi_asof_date", "data_quality_flags", "rollup_strategy"]

# Candidate tiers, best first (the rules of the module docstring):
TIER_CLOSE_GOOD, TIER_FALLBACK, TIER_LAST_GOOD, TIER_CLOSE_BAD, TIER_LAST_ANY = range(5)
_STRATEGY_OF_TIER = {
    TIER_CLOSE_GOOD: STRATEGY_CLOSE,
    TIER_FALLBACK: STRATEGY_FALLBACK,
    TIER_LAST_GOOD: STRATEGY_LAST_GOOD,
    TIER_CLOSE_BAD: STRATEGY_CLOSE,
    TIER_LAST_ANY: STRATEGY_LAST_GOOD,
}


def good_quote() -> pl.Expr:
    """A two-sided quote: no missing_quote flag (a null flag list counts as no flags)."""
    return ~pl.col("data_quality_flags").list.contains(S.FLAG_MISSING_QUOTE).fill_null(False)


def as_frame(table: pa.Table | pl.DataFrame | None, schema: pa.Schema) -> pl.DataFrame | None:
    if table is None:
        return None
    if isinstance(table, pl.DataFrame):
        return table
    return pl.from_arrow(S.conform(table, schema))  # type: ignore[return-value]


def close_candidates(close: pl.DataFrame) -> pl.DataFrame:
    """The close view's row per contract (the last one when a contract repeats)."""
    if close.select(pl.struct(KEY).is_duplicated().any()).item():
        close = close.unique(subset=KEY, keep="last", maintain_order=True)
    return close.with_columns(
        _tier=pl.when(good_quote()).then(TIER_CLOSE_GOOD).otherwise(TIER_CLOSE_BAD),
        _s1=pl.lit(0, pl.Int64),
        _s2=pl.lit(0, pl.Int64),
    )


def intraday_candidates(intraday: pl.DataFrame, fallback_slot: str) -> pl.DataFrame:
    """Intraday rows ranked so the first per contract is the one the rules pick.

    The fallback slot's good row wins (the earliest, should it repeat); otherwise the
    latest good row by sample_time, then the latest row of any kind; equal times go to
    the row read last (`_order` when given, else the order of the input).
    """
    t = pl.col("sample_time").dt.epoch("us")
    i = pl.col("_order") if "_order" in intraday.columns else pl.int_range(pl.len(), dtype=pl.Int64)
    fallback = good_quote() & (pl.col("slot") == fallback_slot)
    return intraday.with_columns(
        _tier=pl.when(fallback)
        .then(TIER_FALLBACK)
        .when(good_quote())
        .then(TIER_LAST_GOOD)
        .otherwise(TIER_LAST_ANY),
        _s1=pl.when(fallback).then(t).otherwise(-t),
        _s2=pl.when(fallback).then(i).otherwise(-i),
    )


RANK = [*KEY, "_tier", "_s1", "_s2"]
CONTRACT_ORDER = ["expiry", "strike", "right", "conid"]


def choose(candidates: Sequence[pl.DataFrame]) -> pl.DataFrame:
    """The best-ranked candidate per contract, with its `_tier`, in output order.

    Ranking runs on narrow key columns and the wide rows are gathered once. A good close
    row is the best there is, so only the other contracts are ranked; a chosen row takes
    its contract's place in the close file when that file is in contract order (as the
    collector writes it), so only underlyings with other contracts are sorted.
    """
    frames = [c.drop("_order", strict=False) for c in candidates if c.height]
    if not frames:
        return pl.DataFrame()
    wide = pl.concat(frames, how="vertical_relaxed").rechunk()
    narrow = wide.select(*RANK, *CONTRACT_ORDER[:-1]).with_row_index("_row")
    closes = narrow.filter(pl.col("_tier").is_in([TIER_CLOSE_GOOD, TIER_CLOSE_BAD]))
    best = closes.filter(pl.col("_tier") == TIER_CLOSE_GOOD)
    rest = narrow.join(best.select(KEY), on=KEY, how="anti")
    if rest.height:
        picked = rest.sort(RANK).unique(subset=KEY, keep="first", maintain_order=True)
        best = pl.concat([best, picked])
    names = sorted(best["underlying"].unique().to_list())
    uidx = pl.col("underlying").replace_strict(
        names, list(range(len(names))), return_dtype=pl.Int32
    )
    place = closes.select(*KEY, _place=pl.col("_row"))
    best = best.join(place, on=KEY, how="left").with_columns(_u=uidx)
    unordered = best.filter(pl.col("_place").is_null())["underlying"].unique().to_list()
    unordered += _unsorted_underlyings(closes)
    if unordered:  # contracts the close file lacks (or a file out of order): sort those
        fix = best.filter(pl.col("underlying").is_in(unordered))
        fix = fix.sort(["_u", *CONTRACT_ORDER]).with_columns(
            _place=-pl.int_range(pl.len(), 0, -1, dtype=pl.UInt32).cast(pl.Int64)
        )
        best = pl.concat(
            [
                best.filter(~pl.col("underlying").is_in(unordered)).with_columns(
                    pl.col("_place").cast(pl.Int64)
                ),
                fix,
            ]
        )
    return wide[best.sort(["_u", "_place"])["_row"]]


def _unsorted_underlyings(closes: pl.DataFrame) -> list[str]:
    """Underlyings whose close rows are not in contract order (row by row, vectorised)."""
    if closes.height < 2:
        return []
    keys = [pl.col(c) for c in CONTRACT_ORDER]
    nxt = [k.shift(-1) for k in keys]
    le = pl.lit(True)  # lexicographic row <= next row, built from the last key inwards
    for k, n in reversed(list(zip(keys, nxt, strict=True))):
        le = (k < n) | ((k == n) & le)
    same = pl.col("underlying") == pl.col("underlying").shift(-1)
    bad = closes.filter(same.fill_null(False) & ~le.fill_null(True))
    return bad["underlying"].unique().to_list()


def finish(chosen: pl.DataFrame, previous: pl.DataFrame | None) -> pa.Table:
    """Chosen rows -> daily_clean: provenance columns, OI kept from an earlier daily_clean."""
    if chosen.height == 0:
        return S.DAILY_CLEAN_SCHEMA.empty_table()
    drop_oi = [S.FLAG_MISSING_OI, S.FLAG_OI_ENRICHMENT_FAILED]
    if previous is not None and previous.height:
        prev = previous.unique(subset=KEY, keep="last", maintain_order=True).select(
            *KEY,
            _prev_oi=pl.col("open_interest"),
            _prev_asof=pl.col("oi_asof_date"),
            _prev_failed=pl.col("data_quality_flags")
            .list.contains(S.FLAG_OI_ENRICHMENT_FAILED)
            .fill_null(False),
        )
        chosen = chosen.join(prev, on=KEY, how="left", maintain_order="left")
    else:
        chosen = chosen.with_columns(
            _prev_oi=pl.lit(None, pl.Int64),
            _prev_asof=pl.lit(None, pl.Date),
            _prev_failed=pl.lit(False),
        )
    kept = pl.col("_prev_oi").is_not_null() & pl.col("_prev_asof").is_not_null()
    strategy = pl.col("_tier").replace_strict(_STRATEGY_OF_TIER, return_dtype=pl.String)
    flags = pl.col("data_quality_flags")
    has_oi_flag = flags.list.contains(S.FLAG_MISSING_OI) | flags.list.contains(
        S.FLAG_OI_ENRICHMENT_FAILED
    )
    # Filtering list elements is costly: only rows carrying an OI flag need it.
    clean_flags = (
        pl.when(has_oi_flag.fill_null(False))
        .then(flags.list.eval(pl.element().filter(~pl.element().is_in(drop_oi))))
        .otherwise(flags)
    )
    out = chosen.with_columns(
        rollup_source_time=pl.col("sample_time"),
        rollup_source_slot=pl.col("slot"),
        rollup_strategy=strategy,
        # OI comes from next-day enrichment only: kept when an earlier rollup's row had it
        open_interest=pl.when(kept).then(pl.col("_prev_oi")).otherwise(None),
        oi_asof_date=pl.when(kept).then(pl.col("_prev_asof")).otherwise(None),
        # one list concatenation per row (building lists with nulls, then dropping
        # them, cost three times as much)
        data_quality_flags=clean_flags.list.concat(
            pl.when(~kept & pl.col("_prev_failed").fill_null(False))
            .then(pl.lit([S.FLAG_OI_ENRICHMENT_FAILED, S.FLAG_MISSING_OI]))
            .when(~kept)
            .then(pl.lit([S.FLAG_MISSING_OI]))
            .otherwise(pl.lit([], pl.List(pl.String)))
        ),
    )
    # large (not view) strings: conforming them to the contract's types is a cheap cast
    return S.conform(out.to_arrow(compat_level=pl.CompatLevel.oldest()), S.DAILY_CLEAN_SCHEMA)


def rollup_frames(
    close: pl.DataFrame | None,
    intraday: pl.DataFrame | None,
    *,
    allow_intraday_fallback: bool,
    fallback_slot: str,
    previous: pl.DataFrame | None = None,
) -> pa.Table:
    """daily_clean rows of any number of underlyings, sorted by underlying then contract."""
    cands = []
    if close is not None and close.height:
        cands.append(close_candidates(close))
    if allow_intraday_fallback and intraday is not None and intraday.height:
        cands.append(intraday_candidates(intraday, fallback_slot))
    return finish(choose(cands), previous)


def rollup_table(
    close: pa.Table | None,
    intraday: Sequence[pa.Table],
    *,
    allow_intraday_fallback: bool,
    fallback_slot: str,
    previous: pa.Table | None = None,
) -> pa.Table:
    """The daily_clean table of one underlying from its close table and slot tables."""
    tables = [S.conform(t, S.SNAPSHOT_SCHEMA) for t in intraday]
    return rollup_frames(
        as_frame(close, S.SNAPSHOT_SCHEMA),
        as_frame(pa.concat_tables(tables), S.SNAPSHOT_SCHEMA) if tables else None,
        allow_intraday_fallback=allow_intraday_fallback,
        fallback_slot=fallback_slot,
        previous=as_frame(previous, S.DAILY_CLEAN_SCHEMA),
    )


def expired_on(row: dict[str, Any], trade_date: date) -> bool:
    """A contract whose expiry is the trade date (or earlier) has no OI the next morning."""
    expiry = row.get("expiry")
    return expiry is not None and expiry <= trade_date


def apply_open_interest(
    daily: pa.Table,
    open_interest: dict[int, int],
    asof: date,
    failures: dict[int, int],
    max_failures: int,
) -> pa.Table:
    """Set open_interest/oi_asof_date by conid (idempotent); clear missing_oi where filled.

    `failures` holds each still-missing contract's consecutive failed attempts (this one
    included); at `max_failures` the row is flagged oi_enrichment_failed.
    """
    rows = daily.to_pylist()
    for row in rows:
        flags = [
            f
            for f in row["data_quality_flags"]
            if f not in (S.FLAG_MISSING_OI, S.FLAG_OI_ENRICHMENT_FAILED)
        ]
        oi = open_interest.get(row["conid"])
        if oi is not None:
            row["open_interest"] = oi
            row["oi_asof_date"] = asof
        elif row.get("oi_asof_date") is None and expired_on(row, asof):
            # gone by the next morning: its null OI is explained, never requested
            if S.FLAG_EXPIRED not in flags:
                flags.append(S.FLAG_EXPIRED)
            row["missing_reason"] = row.get("missing_reason") or S.FLAG_EXPIRED
        elif row.get("oi_asof_date") is None:
            flags.append(S.FLAG_MISSING_OI)
            if failures.get(row["conid"], 0) >= max_failures:
                flags.append(S.FLAG_OI_ENRICHMENT_FAILED)
        row["data_quality_flags"] = flags
    table = pa.Table.from_pylist(rows, schema=S.DAILY_CLEAN_SCHEMA)
    return table.sort_by([*S.SORT_KEYS, ("conid", "ascending")]) if table.num_rows else table
