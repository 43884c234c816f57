"""`compact`: merge a week's intraday slot files into one zstd file per (date, underlying).

    view=intraday/date=D/underlying=SYM/slot=0930.parquet, slot=1000.parquet, ...
 -> view=intraday/date=D/underlying=SYM/compacted.parquet   (all slots, `slot` column kept)

Every row and the unique key (trade_date, sample_time, conid) survive; a slot re-collected
after compaction is merged in by the next run (its new file wins over the compacted copy).
The ledger keeps one row per slot, re-pointed at the compacted file, so per-slot queries
still find their rows. Order: write compacted.parquet atomically, delete the slot files,
update the ledger; a crash between steps leaves duplicates only until the next run.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from collector.ops.checks.dataset import partition_files
from shared.ledger import Ledger, LedgerReader, PartitionRecord
from shared.schema import SNAPSHOT_SCHEMA, conform
from shared.storage import Layout, atomic_write_parquet

VIEW = "intraday"
UNIQUE_KEY = ["trade_date", "sample_time", "conid"]
SORT = ["slot", "expiry", "strike", "right", "conid"]


@dataclass
class UnderlyingCompaction:
    trade_date: date
    underlying: str
    files_in: int
    rows_in: int
    rows_out: int
    duplicates_dropped: int
    path: Path


@dataclass
class CompactionReport:
    week_start: date
    items: list[UnderlyingCompaction] = field(default_factory=list)
    skipped_dates: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(i.rows_out for i in self.items)

    @property
    def files_before(self) -> int:
        return sum(i.files_in for i in self.items)


def week_dates(week_start: date) -> list[date]:
    monday = week_start - timedelta(days=week_start.weekday())
    return [monday + timedelta(days=i) for i in range(7)]


def parse_week(text: str) -> date:
    """'2026-W47' -> the Monday of that ISO week."""
    try:
        year, week = text.upper().split("-W")
        return date.fromisocalendar(int(year), int(week), 1)
    except ValueError:
        raise ValueError(f"week must be YYYY-Www (ISO week), got {text!r}") from None


def default_week(today: date) -> date:
    """The last complete ISO week before the one containing `today`."""
    return today - timedelta(days=today.weekday() + 7)


def _frame(table: pa.Table) -> pl.DataFrame:
    frame = pl.from_arrow(conform(table, SNAPSHOT_SCHEMA))
    assert isinstance(frame, pl.DataFrame)
    return frame


def merge_tables(compacted: pa.Table | None, slot_tables: list[pa.Table]) -> tuple[pa.Table, int]:
    """Pure: union of the slot tables and the compacted rows of other slots, unique by key.

    A slot present in the new slot files replaces its compacted copy; an exact key repeat
    keeps the newest. Returns the merged table (data-contract schema) and duplicates dropped.
    """
    frames = [_frame(t) for t in slot_tables]
    new_slots: set[str] = set()
    for frame in frames:
        new_slots.update(frame.get_column("slot").unique().to_list())
    if compacted is not None:
        frames.insert(0, _frame(compacted).filter(~pl.col("slot").is_in(sorted(new_slots))))
    if not frames:
        return SNAPSHOT_SCHEMA.empty_table(), 0
    merged = pl.concat(frames, how="vertical")
    unique = merged.unique(subset=UNIQUE_KEY, keep="last", maintain_order=True).sort(SORT)
    return conform(unique.to_arrow(), SNAPSHOT_SCHEMA), merged.height - unique.height


def compact_underlying(
    layout: Layout, trade_date: date, directory: Path, compression_level: int, dry_run: bool
) -> UnderlyingCompaction | None:
    slot_files = sorted(directory.glob("slot=*.parquet"))
    if not slot_files:
        return None
    underlying = directory.name.split("=", 1)[1]
    target = layout.compacted_file(VIEW, trade_date, underlying)
    compacted = pq.read_table(target) if target.is_file() else None
    tables = [pq.read_table(f) for f in slot_files]
    rows_in = sum(t.num_rows for t in tables) + (compacted.num_rows if compacted is not None else 0)
    merged, dropped = merge_tables(compacted, tables)
    item = UnderlyingCompaction(
        trade_date, underlying, len(slot_files), rows_in, merged.num_rows, dropped, target
    )
    if dry_run:
        return item
    size = atomic_write_parquet(target, merged, "zstd", compression_level)
    for f in slot_files:
        f.unlink()
    _repoint_ledger(layout, trade_date, underlying, merged, target, size)
    return item


def _repoint_ledger(
    layout: Layout, trade_date: date, underlying: str, merged: pa.Table, target: Path, size: int
) -> None:
    per_slot = Counter(merged.column("slot").to_pylist())
    known = {
        r["slot"]: r
        for r in LedgerReader(layout.ledger).partitions_for_date(trade_date, VIEW)
        if r["underlying"] == underlying
    }
    ledger = Ledger(layout.ledger)
    total = max(1, merged.num_rows)
    for slot_label, rows in sorted(per_slot.items()):
        key = slot_label.replace(":", "")
        old = known.get(key) or known.get(slot_label) or {}
        ledger_slot = str(old.get("slot", slot_label))
        rec = PartitionRecord(
            VIEW,
            trade_date,
            underlying,
            ledger_slot,
            str(target),
            rows,
            size * rows // total,
            old.get("quote_fill"),
            old.get("greeks_fill"),
            int(old.get("delayed_rows") or 0),
        )
        ledger.record_partition(rec, old.get("run_id"))


def compact_week(
    layout: Layout,
    week_start: date,
    *,
    today: date,
    same_day: bool,
    compression_level: int,
    dry_run: bool = False,
) -> CompactionReport:
    report = CompactionReport(week_dates(week_start)[0])
    for day in week_dates(week_start):
        day_dir = layout.date_dir(VIEW, day)
        if not day_dir.is_dir():
            continue
        if day >= today and not same_day:
            report.skipped_dates.append(
                f"{day} (today or later; storage.same_day_compaction_enabled=false)"
            )
            continue
        for directory in sorted(p for p in day_dir.glob("underlying=*") if p.is_dir()):
            item = compact_underlying(layout, day, directory, compression_level, dry_run)
            if item is not None:
                report.items.append(item)
    return report


def count_rows(layout: Layout, view: str, dates: list[date]) -> int:
    """Rows a reader sees for the dates (to prove compaction kept every row)."""
    total = 0
    for day in dates:
        for f in partition_files(layout.date_dir(view, day)):
            total += pq.ParquetFile(f).metadata.num_rows
    return total
