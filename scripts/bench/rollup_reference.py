"""The row-by-row rollup as it stood before the vectorised one (frozen reference).

Kept verbatim so the equivalence test (tests/unit/test_rollup_equivalence.py) and the
rollup benchmark (scripts/bench/scale_bench.py) can compare the new implementation with
it on the same input. Not used by the collector.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from shared import schema as S

STRATEGY_CLOSE, STRATEGY_LAST_GOOD, STRATEGY_FALLBACK = S.ROLLUP_STRATEGIES


def _good(row: dict[str, Any]) -> bool:
    return S.FLAG_MISSING_QUOTE not in (row.get("data_quality_flags") or [])


def _as_rows(table: pa.Table | None) -> list[dict[str, Any]]:
    return [] if table is None else table.to_pylist()


def rollup_rows(
    close: pa.Table | None,
    intraday: Sequence[pa.Table],
    *,
    allow_intraday_fallback: bool,
    fallback_slot: str,
    previous: pa.Table | None = None,
) -> list[dict[str, Any]]:
    """The daily_clean rows; `previous` (an earlier daily_clean) keeps OI already enriched."""
    close_by_conid = {r["conid"]: r for r in _as_rows(close)}
    slots: dict[int, list[dict[str, Any]]] = {}
    if allow_intraday_fallback:
        for table in intraday:
            for r in _as_rows(table):
                slots.setdefault(r["conid"], []).append(r)
    prev = {r["conid"]: r for r in _as_rows(previous)}
    out: list[dict[str, Any]] = []
    for conid in sorted(set(close_by_conid) | set(slots)):
        chosen, strategy = _choose(close_by_conid.get(conid), slots.get(conid, []), fallback_slot)
        if chosen is None:
            continue
        row = dict(chosen)
        row["rollup_source_time"] = chosen["sample_time"]
        row["rollup_source_slot"] = chosen["slot"]
        row["rollup_strategy"] = strategy
        row["oi_asof_date"] = None
        flags = [
            f
            for f in row["data_quality_flags"]
            if f not in (S.FLAG_MISSING_OI, S.FLAG_OI_ENRICHMENT_FAILED)
        ]
        old = prev.get(conid)
        if (
            old is not None
            and old.get("open_interest") is not None
            and old.get("oi_asof_date") is not None
        ):
            row["open_interest"] = old["open_interest"]
            row["oi_asof_date"] = old["oi_asof_date"]
        elif old is not None and S.FLAG_OI_ENRICHMENT_FAILED in (
            old.get("data_quality_flags") or []
        ):
            flags.append(S.FLAG_OI_ENRICHMENT_FAILED)
        if row["oi_asof_date"] is None:
            row["open_interest"] = None  # OI comes from next-day enrichment only
            flags.append(S.FLAG_MISSING_OI)
        row["data_quality_flags"] = flags
        out.append(row)
    return out


def _choose(
    close_row: dict[str, Any] | None, intraday_rows: list[dict[str, Any]], fallback_slot: str
) -> tuple[dict[str, Any] | None, str]:
    if close_row is not None and _good(close_row):
        return close_row, STRATEGY_CLOSE
    ordered = sorted(intraday_rows, key=lambda r: r["sample_time"])
    for r in ordered:
        if r["slot"] == fallback_slot and _good(r):
            return r, STRATEGY_FALLBACK
    good = [r for r in ordered if _good(r)]
    if good:
        return good[-1], STRATEGY_LAST_GOOD
    if close_row is not None:
        return close_row, STRATEGY_CLOSE
    if ordered:
        return ordered[-1], STRATEGY_LAST_GOOD
    return None, ""


def rollup_table(
    close: pa.Table | None,
    intraday: Sequence[pa.Table],
    *,
    allow_intraday_fallback: bool,
    fallback_slot: str,
    previous: pa.Table | None = None,
) -> pa.Table:
    rows = rollup_rows(
        close,
        intraday,
        allow_intraday_fallback=allow_intraday_fallback,
        fallback_slot=fallback_slot,
        previous=previous,
    )
    table = pa.Table.from_pylist(rows, schema=S.DAILY_CLEAN_SCHEMA)
    return table.sort_by([*S.SORT_KEYS, ("conid", "ascending")]) if table.num_rows else table
