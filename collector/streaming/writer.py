"""Streaming parts: updates -> rows (sentinels cleaned by the one cleaner) -> one Parquet part
per underlying per flush, raw/ib/streaming/date=D/underlying=SYM/part-<n>.parquet.

An underlying belongs to one shard, so shards writing one root write disjoint folders. A
part is still created exclusively (never replacing a file): if another writer took the
number meanwhile (the same shard started twice past its lock on another host, or a shard
count changed mid-day), the part takes the next free number instead of overwriting.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from collector.pipeline.sentinels import clean_model_value, clean_price, clean_size
from shared import datafs
from shared.datafs import DataPath
from shared.ledger import PartitionRecord
from shared.schema import STREAMING_SCHEMA
from shared.storage import STREAMING_VIEW, Layout

log = logging.getLogger(__name__)
PART_RE = re.compile(r"^part-(\d+)\.parquet$")
MAX_NAME_TRIES = 100


@dataclass(frozen=True)
class ContractInfo:
    underlying: str
    sec_type: str
    expiry: date | None = None
    strike: float | None = None
    right: str | None = None


def rows_to_table(
    quotes: Sequence[Any], info: dict[int, ContractInfo], trade_date: date, ingest_id: str
) -> pa.Table:
    """QuoteSnapshot-like records (conid, received_at, bid, ..., model) -> STREAMING_SCHEMA."""
    rows = []
    for q in quotes:
        meta = info.get(q.conid)
        if meta is None:
            continue
        model = q.model
        rows.append(
            {
                "trade_date": trade_date,
                "event_time": q.received_at,
                "ingest_id": ingest_id,
                "underlying": meta.underlying,
                "conid": q.conid,
                "sec_type": meta.sec_type,
                "expiry": meta.expiry,
                "strike": meta.strike,
                "right": meta.right,
                "bid": clean_price(q.bid),
                "ask": clean_price(q.ask),
                "last": clean_price(q.last),
                "bid_size": clean_size(q.bid_size),
                "ask_size": clean_size(q.ask_size),
                "volume": clean_size(q.volume),
                **_model(model),
                "market_data_type": q.market_data_type,
            }
        )
    return pa.Table.from_pylist(rows, schema=STREAMING_SCHEMA)


def _model(model: Any) -> dict[str, float | None]:
    names = ("iv", "delta", "gamma", "vega", "theta", "und_price")
    if model is None:
        return dict.fromkeys(names)
    return {name: clean_model_value(name, getattr(model, name)) for name in names}


def next_part(directory: DataPath) -> int:
    used = [
        int(m.group(1))
        for name in datafs.names(directory, "part-", ".parquet")
        if (m := PART_RE.match(name))
    ]
    return max(used, default=-1) + 1


def write_new_part(directory: DataPath, table: pa.Table) -> tuple[DataPath, int]:
    """Write `table` as the next part-<n>.parquet of `directory`, never over an existing
    part (on an object store: a conditional PUT); returns the path and its size."""
    n = next_part(directory)
    for _ in range(MAX_NAME_TRIES):
        path = directory / f"part-{n}.parquet"
        try:
            return path, datafs.write_parquet(path, table, exclusive=True)
        except FileExistsError:
            log.warning("streaming part %s appeared meanwhile; taking the next number", path)
            n = max(n + 1, next_part(directory))
    raise RuntimeError(f"streaming: no free part name in {directory} after {MAX_NAME_TRIES} tries")


@dataclass
class StreamingSummary:
    trade_date: date
    shard: str = ""  # "i/N" when the universe is split
    underlyings: list[str] = field(default_factory=list)  # what this shard streams
    lines: int = 0
    rows: int = 0
    parts: list[str] = field(default_factory=list)
    streamed: set[str] = field(default_factory=set)  # underlyings with a part written
    error: str | None = None
    run_id: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def line(self) -> str:
        who = f" shard {self.shard}" if self.shard else ""
        parts = len(self.parts)
        head = (
            f"streaming {self.trade_date}{who}: {len(self.underlyings)} underlyings, "
            f"{self.lines} lines, {self.rows} rows in {parts} parts"
        )
        return head + (f"; error: {self.error}" if self.error else "")


class PartWriter:
    """Writes one part per underlying per flush; numbering continues across restarts."""

    def __init__(
        self, layout: Layout, trade_date: date, info: dict[int, ContractInfo], ingest_id: str
    ) -> None:
        self.layout = layout
        self.trade_date = trade_date
        self.info = info
        self.ingest_id = ingest_id

    def flush(self, quotes: Sequence[Any], summary: StreamingSummary) -> list[PartitionRecord]:
        """Write the parts; returns one ledger record per part (its rows and bytes)."""
        table = rows_to_table(quotes, self.info, self.trade_date, self.ingest_id)
        if not table.num_rows:
            return []
        records = []
        for symbol in sorted(set(table.column("underlying").to_pylist())):
            part = table.filter(pc.equal(table.column("underlying"), symbol))
            directory = self.layout.streaming_dir(self.trade_date, symbol)
            path, size = write_new_part(directory, part)
            summary.rows += part.num_rows
            summary.parts.append(str(path))
            records.append(
                PartitionRecord(
                    STREAMING_VIEW, self.trade_date, symbol, "", str(path), part.num_rows, size
                )
            )
        return records
