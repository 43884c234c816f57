"""Reading one partition file and turning frames into JSON-ready rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa

from shared.datafs import DataPath
from shared.queries import files, nearest
from shared.queries.compacted import read_slot
from shared.queries.context import ServerContext
from shared.queries.limits import Meta
from shared.queries.paths import QueryError
from shared.queries.results import json_ready
from shared.schema import schema_for_view


@dataclass(frozen=True)
class Partition:
    """One resolved partition: the arguments the caller gave, completed from the ledger."""

    view: str
    trade_date: date
    symbol: str
    slot: str | None
    path: DataPath
    compacted: bool = False  # path is compacted.parquet: read it filtered to `slot`


def resolve_partition(
    ctx: ServerContext,
    symbol: str,
    day: str | None,
    view: str,
    slot: str | None,
    meta: Meta | None = None,
    prefix: str = "",
) -> Partition:
    """Check the arguments and fill in the latest date / slot the ledger knows of.

    What is asked for but not stored is an error naming the nearest that is. meta.resolved
    records the date and slot used (keys prefixed, e.g. 'from_date', for two partitions).
    """
    acc = ctx.access
    view = acc.view(view)
    sym = acc.symbol(symbol)
    trade_date = acc.trade_date(day) or ctx.latest_date(view, sym)
    if trade_date is None:
        raise nearest.missing_symbol(ctx, view, sym)
    slot_label = acc.slot(slot)
    if view == "daily_clean":
        slot_label = None
    elif slot_label is None:
        slot_label = ctx.latest_slot(view, trade_date, sym)
        if slot_label is None:
            raise nearest.missing_date(ctx, view, sym, trade_date)
    if meta is not None:
        meta.resolved[f"{prefix}date"] = trade_date.isoformat()
        if view != "daily_clean":
            meta.resolved[f"{prefix}slot"] = slot_label
    path = acc.chain_file(view, trade_date, sym, slot_label)
    if slot_label is not None and not path.is_file():
        packed = acc.compacted_file(view, trade_date, sym)
        if packed.is_file():
            return Partition(view, trade_date, sym, slot_label, packed, compacted=True)
    if not path.is_file():
        if slot_label is not None:
            raise nearest.missing_slot(ctx, view, sym, trade_date, slot_label)
        raise nearest.missing_date(ctx, view, sym, trade_date)
    return Partition(view, trade_date, sym, slot_label, path)


def read_partition(
    ctx: ServerContext, part: Partition, columns: list[str] | None, meta: Meta
) -> pl.DataFrame:
    """Read one partition (only the columns needed); missing or corrupt is a QueryError.

    A compacted partition is its slot's rows of compacted.parquet, filtered while reading.
    """
    known = set(schema_for_view(part.view).names)
    if columns:
        unknown = [c for c in columns if c not in known]
        if unknown:
            raise QueryError(f"unknown column(s) {', '.join(unknown)} for view {part.view}")
    source = ctx.access.relative(part.path)
    meta.add_source(f"{source} (slot == '{part.slot}')" if part.compacted else source)
    slot = f" slot {part.slot}" if part.slot else ""
    gone = QueryError(f"no {part.view} partition for {part.symbol} on {part.trade_date}{slot}")
    # resolve_partition has just seen the file; on an object store that check is a HEAD,
    # so it is not asked again: the GET's FileNotFoundError says the same.
    if isinstance(part.path, Path) and not part.path.is_file():
        raise gone
    try:
        if part.compacted:
            assert part.slot is not None
            table = read_slot(part.path, part.slot, columns)
        else:
            # One small file: no read-ahead buffer and no thread pool (halves the read).
            pf = files.parquet_file(part.path, pre_buffer=False)
            file_cols = set(pf.schema_arrow.names)
            wanted = [c for c in columns if c in file_cols] if columns else None
            table = pf.read(columns=wanted, use_threads=False)
    except FileNotFoundError:
        raise gone from None
    except (OSError, pa.ArrowException) as exc:
        raise QueryError(f"partition {source} is unreadable: {exc}") from None
    if part.compacted and table.num_rows == 0:
        raise QueryError(
            f"no {part.view} partition for {part.symbol} on {part.trade_date}{slot}"
            f" ({source} holds no rows of that slot)"
        )
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame


def one_row_per_contract(frame: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """The frame with a contract's repeated rows dropped (the first kept), and how many.

    Within one partition (one date, one slot) a conid is one row by the data contract's
    keys; a file that repeats rows (get_partition_issues' `duplicates`) would count those
    contracts twice in every sum, ratio and GEX. Rows without a conid are kept as they are.
    """
    if "conid" not in frame.columns:
        return frame, 0
    kept = frame.filter(pl.col("conid").is_null() | pl.col("conid").is_first_distinct())
    return kept, frame.height - kept.height


def repeated_rows_note(dropped: int) -> str:
    return (
        f"{dropped} repeated rows of a contract (same conid) counted once; "
        "get_partition_issues lists them as duplicates"
    )


def partition_info(part: Partition) -> dict[str, Any]:
    return {
        "symbol": part.symbol,
        "view": part.view,
        "date": part.trade_date.isoformat(),
        "slot": part.slot,
    }


def to_records(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts (results.json_ready: ISO dates, rounded floats, no NaN)."""
    return json_ready(frame).to_dicts()


def ratio(num: float | None, den: float | None) -> float | None:
    if num is None or not den:
        return None
    return round(float(num) / float(den), 6)
