"""The only data writer: atomic Parquet writes + one ledger partitions row per file."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from collector.pipeline.rows import fill_stats
from shared.config import AppConfig
from shared.ledger import Ledger, PartitionRecord
from shared.schema import schema_for_view
from shared.storage import Layout, atomic_write_parquet

HISTORY_VIEW = "history_1d"  # the ledger view name of clean/ib/history/bar=1d files


def write_chain(
    cfg: AppConfig,
    layout: Layout,
    ledger: Ledger,
    view: str,
    trade_date: date,
    symbol: str,
    slot: str | None,
    table: pa.Table,
    run_id: str,
) -> PartitionRecord:
    """Replace the partition file atomically, then record it (rows, bytes, fills, delayed)."""
    schema = schema_for_view(view)
    if table.schema != schema:
        table = table.select(schema.names).cast(schema)
    path = layout.chain_file(view, trade_date, symbol, slot)
    atomic_write_parquet(path, table, cfg.storage.compression, cfg.storage.compression_level)
    rec = write_chain_record(layout, view, trade_date, symbol, slot, table)
    ledger.record_partition(rec, run_id)
    return rec


def write_history(
    cfg: AppConfig,
    layout: Layout,
    ledger: Ledger,
    symbol: str,
    table: pa.Table,
    run_id: str,
    trade_date: date,
) -> PartitionRecord:
    """Replace an underlying's daily-bar file atomically, then record it under `trade_date`.

    History files are not per trade date; the ledger row is dated by the ET trade date of
    the run that wrote it, like every other row, so a day's runs and files line up.
    """
    path = layout.history_file(symbol)
    size = atomic_write_parquet(path, table, cfg.storage.compression, cfg.storage.compression_level)
    rec = PartitionRecord(HISTORY_VIEW, trade_date, symbol, "", str(path), table.num_rows, size)
    ledger.record_partition(rec, run_id)
    return rec


def write_chain_record(
    layout: Layout, view: str, trade_date: date, symbol: str, slot: str | None, table: pa.Table
) -> PartitionRecord:
    """The ledger record of a partition file already on disk."""
    path = layout.chain_file(view, trade_date, symbol, slot)
    stats = fill_stats(table)
    return PartitionRecord(
        view=view,
        trade_date=trade_date,
        underlying=symbol,
        slot=slot or "",
        path=str(path),
        rows=table.num_rows,
        bytes=path.stat().st_size,
        quote_fill=stats.quote_fill,
        greeks_fill=stats.greeks_fill,
        delayed_rows=stats.delayed_rows,
    )


def read_table(path: Path) -> pa.Table | None:
    if not path.is_file():
        return None
    return pq.read_table(path)


def remove_tmp_files(directory: Path) -> int:
    """Delete `*.tmp` leftovers of a crashed writer under `directory`; returns how many."""
    n = 0
    if directory.exists():
        for p in directory.rglob("*.tmp"):
            p.unlink(missing_ok=True)
            n += 1
    return n
