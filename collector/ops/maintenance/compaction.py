"""`compact`: merge a week's (or one day's) intraday slot files into one file per underlying.

The merge rule and the file's layout are collector/pipeline/compacted.py. Every row and the
unique key (trade_date, sample_time, conid) survive; a slot collected again after
compaction is written into the compacted file by the slot writer itself, and a slot file
left beside it (an older collector) is merged in by the next run (it wins over the copy).
The ledger keeps one row per slot, re-pointed at the compacted file, so per-slot queries
still find their rows. Order: write compacted.parquet atomically (a batch of underlyings'
files at once), delete the slot files, update the ledger; a crash between steps leaves
duplicates only until the next run.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import partial
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from collector.ops.checks.dataset import partition_files
from collector.pipeline.compacted import merge_frames, read_day_files
from collector.pipeline.store import UNREADABLE, Quarantined, quarantine_unreadable
from shared import datafs
from shared.datafs import DataPath
from shared.ledger import Ledger, LedgerReader, PartitionRecord
from shared.storage import Layout

VIEW = "intraday"


@dataclass
class UnderlyingCompaction:
    trade_date: date
    underlying: str
    files_in: int
    rows_in: int
    rows_out: int
    duplicates_dropped: int
    path: DataPath
    slot_files: list[DataPath] = field(default_factory=list, repr=False)  # merged, then removed


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


# underlying, its compacted file's slot column (one row per row of the file), file, size
_Repoint = tuple[str, pa.Table, DataPath, int]


def _merge_underlying(
    layout: Layout, trade_date: date, directory: DataPath, batch: datafs.ParquetBatch | None
) -> tuple[UnderlyingCompaction, list[_Repoint]] | None:
    """Merge one underlying's files and add the result to `batch` (None: a dry run)."""
    slot_files = [directory / n for n in datafs.names(directory, "slot=", ".parquet")]
    if not slot_files:
        return None
    underlying = directory.name.split("=", 1)[1]
    target = layout.compacted_file(VIEW, trade_date, underlying)
    compacted = read_day_files([target]) if datafs.is_file(target) else None
    slots = read_day_files(slot_files)
    rows_in = slots.height + (compacted.height if compacted is not None else 0)
    merged, dropped = merge_frames(compacted, slots)
    item = UnderlyingCompaction(
        trade_date, underlying, len(slot_files), rows_in, merged.num_rows, dropped, target,
        slot_files,
    )  # fmt: skip
    if batch is None:
        return item, []
    size = batch.add(target, merged)
    return item, [(underlying, merged.select(["slot"]), target, size)]


def day_partitions(layout: Layout, trade_date: date) -> dict[tuple[str, str], dict[str, Any]]:
    """The date's intraday ledger rows by (underlying, slot), read once per date."""
    return {
        (r["underlying"], r["slot"]): r
        for r in LedgerReader(layout.ledger).partitions_for_date(trade_date, VIEW)
    }


def repoint_records(
    trade_date: date,
    underlying: str,
    merged: pa.Table,
    target: DataPath,
    size: int,
    known: dict[tuple[str, str], dict[str, Any]],
) -> list[tuple[PartitionRecord, str | None]]:
    """One ledger row per slot held by the compacted file (fills and run kept)."""
    counts = pc.value_counts(merged.column("slot")).to_pylist()
    per_slot = {str(c["values"]): int(c["counts"]) for c in counts}
    total = max(1, merged.num_rows)
    out = []
    for slot_label, rows in sorted(per_slot.items()):
        key = slot_label.replace(":", "")
        old = known.get((underlying, key)) or known.get((underlying, slot_label)) or {}
        rec = PartitionRecord(
            VIEW,
            trade_date,
            underlying,
            str(old.get("slot", slot_label)),
            str(target),
            rows,
            size * rows // total,
            old.get("quote_fill"),
            old.get("greeks_fill"),
            int(old.get("delayed_rows") or 0),
        )
        out.append((rec, old.get("run_id")))
    return out


# underlyings per batch of files (one disk flush) and per ledger transaction (a WAL sync)
BATCH = 50


def compact_day(
    layout: Layout, day: date, compression_level: int, dry_run: bool = False
) -> list[UnderlyingCompaction]:
    """Every underlying of one date: the ledger read once, files and rows in batches.

    The underlyings are merged two at a time (reading and writing Parquet releases the
    GIL). Each batch of BATCH underlyings is written as one atomic batch of files
    (datafs.ParquetBatch: all replaced or none, one disk flush for all); then, in a
    background thread while the next batch merges, their slot files are deleted and then
    their ledger rows written in one transaction (deleting waits on the disk more than it
    computes: 7,000 files cost about 1.5 s). Should the run die between writing files
    and recording them, the next run re-points what the ledger still places in slot files
    that are gone; between writing and deleting, the next run merges the slot files left
    (their rows win over the compacted copy).
    """
    day_dir = layout.date_dir(VIEW, day)
    dirs = [day_dir / n for n in datafs.names(day_dir, "underlying=", dirs=True)]
    if not dirs:
        return []
    known = day_partitions(layout, day)
    ledger = None if dry_run else Ledger(layout.ledger)
    items: list[UnderlyingCompaction] = []
    pending: list[_Repoint] = [] if dry_run else _stale(layout, day, dirs, known)

    def settle(slot_files: list[DataPath], recs: list[_Repoint]) -> None:
        """After a batch's files are in place: delete its slot files, then record it."""
        assert ledger is not None
        datafs.delete_many(slot_files)
        if recs:
            ledger.record_partitions_with_runs(
                [r for rec in recs for r in repoint_records(day, *rec, known)]
            )

    # `after` runs one batch's settle at a time, in order; leaving the block waits for it
    # (also when a later batch fails: what was written is still deleted and recorded).
    with ThreadPoolExecutor(2) as pool, ThreadPoolExecutor(1) as after:
        settled = []
        if pending:
            settled.append(after.submit(settle, [], pending))
        for start in range(0, len(dirs), BATCH):
            chunk = dirs[start : start + BATCH]
            with datafs.ParquetBatch("zstd", compression_level, expected_files=len(chunk)) as batch:
                merge = partial(_merge_underlying, layout, day, batch=None if dry_run else batch)
                done = [m for m in pool.map(merge, chunk) if m is not None]
            items += [m[0] for m in done]
            if ledger is not None:
                slot_files = [f for item, _ in done for f in item.slot_files]
                settled.append(after.submit(settle, slot_files, [r for _, rs in done for r in rs]))
        for f in settled:
            f.result()
    return items


def _stale(
    layout: Layout, day: date, dirs: list[DataPath], known: dict[tuple[str, str], dict[str, Any]]
) -> list[_Repoint]:
    """Compacted files whose ledger rows still name slot files that are gone."""
    out: list[_Repoint] = []
    by_underlying: dict[str, list[dict[str, Any]]] = {}
    for (u, _), r in known.items():
        by_underlying.setdefault(u, []).append(r)
    for d in dirs:
        underlying = d.name.split("=", 1)[1]
        target = layout.compacted_file(VIEW, day, underlying)
        rows = by_underlying.get(underlying, [])
        if datafs.is_file(target) and any(
            r["path"] != str(target) and not datafs.exists(datafs.path_of(r["path"])) for r in rows
        ):
            table = datafs.read_parquet(target, columns=["slot"])
            out.append((underlying, table, target, datafs.size(target)))
    return out


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
        if not datafs.names(day_dir, "underlying=", dirs=True):
            continue
        if day >= today and not same_day:
            report.skipped_dates.append(
                f"{day} (today or later; storage.same_day_compaction_enabled=false)"
            )
            continue
        report.items += compact_day(layout, day, compression_level, dry_run)
    return report


def count_rows(
    layout: Layout, view: str, dates: list[date], corrupt: list[Quarantined] | None = None
) -> int:
    """Rows a reader sees for the dates (to prove compaction kept every row).

    Only footers are read, all in one native multi-file pass. Should one be unreadable,
    each file's footer is read on its own: with `corrupt` given, an unreadable file is
    moved aside and listed there (the sweep and the count are one pass over the files),
    else the count fails.
    """
    files = [f for day in dates for f in partition_files(layout.date_dir(view, day))]
    if not files:
        return 0
    try:
        scan = pl.scan_parquet([str(f) for f in files], hive_partitioning=False)
        return int(scan.select(pl.len()).collect().item())
    except (pl.exceptions.PolarsError, OSError):
        pass
    total = 0
    for f in files:
        try:
            total += datafs.read_parquet_metadata(f).num_rows
        except UNREADABLE as exc:
            if corrupt is None:
                raise
            corrupt.append(quarantine_unreadable(f, exc))
    return total
