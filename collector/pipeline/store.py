"""The only data writer: atomic Parquet writes + one ledger partitions row per file.

Files go through shared.datafs, so the data root may be a local path (tmp + fsync +
rename) or an object store (one PUT per file)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

import pyarrow as pa

from collector.errorlog import append_error, format_error
from collector.pipeline.compacted import merge_tables
from shared import datafs
from shared.calendar import today_et
from shared.config import AppConfig
from shared.datafs import DataPath
from shared.ledger import Ledger, PartitionRecord
from shared.schema import schema_for_view
from shared.storage import RAW_VIEWS, Layout

if TYPE_CHECKING:
    from collector.pipeline.rows import FillStats

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
    """Replace the partition file atomically, then record it (rows, bytes, fills, delayed).

    A raw slot whose day was already compacted goes into the compacted file instead
    (rewritten atomically with this slot's rows replaced), so no row has two copies.
    """
    schema = schema_for_view(view)
    if table.schema != schema:
        table = table.select(schema.names).cast(schema)
    if slot is not None and view in RAW_VIEWS:
        compacted = layout.compacted_file(view, trade_date, symbol)
        if datafs.is_file(compacted):
            return _write_into_compacted(cfg, layout, ledger, view, trade_date, symbol, slot,
                                         table, run_id, compacted)  # fmt: skip
    path = layout.chain_file(view, trade_date, symbol, slot)
    size = datafs.write_parquet(path, table, cfg.storage.compression, cfg.storage.compression_level)
    rec = write_chain_record(layout, view, trade_date, symbol, slot, table, size)
    ledger.record_partition(rec, run_id)
    return rec


def write_chains(
    cfg: AppConfig,
    layout: Layout,
    ledger: Ledger,
    view: str,
    trade_date: date,
    tables: dict[str, pa.Table],
    run_id: str,
    stats: dict[str, FillStats] | None = None,
) -> list[PartitionRecord]:
    """Replace many underlyings' files of a view without slots (daily_clean) as one atomic
    batch (datafs.write_parquet_many: all or none, one disk flush), then record them in
    one ledger transaction. `stats`: each table's fill_stats when already counted (the
    rollup counts every underlying in one pass)."""
    if view in RAW_VIEWS:
        raise ValueError(f"write_chains writes files without slots, not {view}")
    schema = schema_for_view(view)
    items = [(sym, t if t.schema == schema else t.select(schema.names).cast(schema))
             for sym, t in tables.items()]  # fmt: skip
    sizes = datafs.write_parquet_many(
        [(layout.chain_file(view, trade_date, sym), t) for sym, t in items],
        cfg.storage.compression,
        cfg.storage.compression_level,
    )
    recs = [
        write_chain_record(
            layout, view, trade_date, sym, None, t, size, stats[sym] if stats else None
        )
        for (sym, t), size in zip(items, sizes, strict=True)
    ]
    ledger.record_partitions(recs, run_id)
    return recs


def _write_into_compacted(
    cfg: AppConfig, layout: Layout, ledger: Ledger, view: str, trade_date: date, symbol: str,
    slot: str, table: pa.Table, run_id: str, compacted: DataPath,
) -> PartitionRecord:  # fmt: skip
    merged, _ = merge_tables(datafs.read_parquet(compacted), [table])
    size = datafs.write_parquet(
        compacted, merged, cfg.storage.compression, cfg.storage.compression_level
    )
    # a slot file of the same slot (written before the compacted file existed) goes too
    datafs.delete(layout.chain_file(view, trade_date, symbol, slot))
    from collector.pipeline.rows import fill_stats  # ib_async's types: writers only

    stats = fill_stats(table)
    rec = PartitionRecord(
        view=view,
        trade_date=trade_date,
        underlying=symbol,
        slot=slot,
        path=str(compacted),
        rows=table.num_rows,
        bytes=size * table.num_rows // max(1, merged.num_rows),
        quote_fill=stats.quote_fill,
        greeks_fill=stats.greeks_fill,
        delayed_rows=stats.delayed_rows,
        served_delayed=stats.served_delayed,
    )
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
    size = datafs.write_parquet(path, table, cfg.storage.compression, cfg.storage.compression_level)
    rec = PartitionRecord(HISTORY_VIEW, trade_date, symbol, "", str(path), table.num_rows, size)
    ledger.record_partition(rec, run_id)
    return rec


def write_chain_record(
    layout: Layout,
    view: str,
    trade_date: date,
    symbol: str,
    slot: str | None,
    table: pa.Table,
    size: int | None = None,
    stats: FillStats | None = None,
) -> PartitionRecord:
    """The ledger record of a partition file already written (`size`: its bytes, if known;
    `stats`: the table's fill_stats, if already counted)."""
    path = layout.chain_file(view, trade_date, symbol, slot)
    if stats is None:
        from collector.pipeline.rows import fill_stats  # ib_async's types: writers only

        stats = fill_stats(table)
    return PartitionRecord(
        view=view,
        trade_date=trade_date,
        underlying=symbol,
        slot=slot or "",
        path=str(path),
        rows=table.num_rows,
        bytes=datafs.size(path) if size is None else size,
        quote_fill=stats.quote_fill,
        greeks_fill=stats.greeks_fill,
        delayed_rows=stats.delayed_rows,
        served_delayed=stats.served_delayed,
    )


class CorruptFile(Exception):
    """A stored Parquet file that cannot be read; the message names it in one line."""

    def __init__(self, path: DataPath, reason: str) -> None:
        super().__init__(f"corrupt file {path}: {reason}")
        self.path = path
        self.reason = reason


# What pyarrow raises for a file that is not (or no longer) valid Parquet.
UNREADABLE = (pa.ArrowException, OSError, ValueError)


def read_table(path: DataPath) -> pa.Table | None:
    """The file's table; None when it does not exist; CorruptFile when it cannot be read."""
    if not datafs.is_file(path):
        return None
    try:
        return datafs.read_parquet(path)
    except UNREADABLE as exc:
        raise CorruptFile(path, _reason(exc)) from None


def read_slot_rows(
    layout: Layout, view: str, trade_date: date, symbol: str, slot: str
) -> pa.Table | None:
    """One slot's rows: its slot file, else its rows in the day's compacted file (where a
    compacted day keeps every slot, and where write_chain puts a slot collected again);
    None when neither holds it. CorruptFile names the file that cannot be read."""
    table = read_table(layout.chain_file(view, trade_date, symbol, slot))
    if table is not None or view not in RAW_VIEWS:
        return table
    compacted = layout.compacted_file(view, trade_date, symbol)
    if not datafs.is_file(compacted):
        return None
    from shared.queries.compacted import read_slot

    try:
        rows = read_slot(compacted, slot, None)
    except UNREADABLE as exc:
        raise CorruptFile(compacted, _reason(exc)) from None
    return rows if rows.num_rows else None


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:160]}"


def quarantine(path: DataPath, now: datetime | None = None) -> DataPath:
    """Move a corrupt file aside as `<name>.corrupt-<utc stamp>`, beside it but outside every
    reader's `*.parquet` glob: never deleted, so a disk or copy fault can still be examined.
    (On an object store the move is a copy then a delete.)"""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while datafs.exists(target):
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
        n += 1
    datafs.move(path, target)
    return target


def check_readable(path: DataPath, whole: bool = False) -> str | None:
    """None when the Parquet footer reads; else the reason (cheap: metadata only).

    `whole=True` reads every page too: for a file another reader already failed on.
    """
    try:
        if whole:
            datafs.read_parquet(path)
        else:
            datafs.read_parquet_metadata(path)
    except UNREADABLE as exc:
        return _reason(exc)
    return None


def quarantine_if_unreadable(path: DataPath, whole: bool = False) -> Quarantined | None:
    """Move the file aside when it cannot be read (check_readable); None when it can."""
    reason = check_readable(path, whole)
    if reason is None or not datafs.is_file(path):
        return None
    return Quarantined(path, quarantine(path), reason)


@dataclass(frozen=True)
class Quarantined:
    path: DataPath  # where the file was
    moved_to: DataPath
    reason: str

    def line(self) -> str:
        return f"corrupt file {self.path} ({self.reason}); moved aside to {self.moved_to.name}"

    def path_date(self) -> date:
        """The trade date of the partition (its date=YYYY-MM-DD folder), else today's ET date."""
        for part in self.path.parts:
            if part.startswith("date="):
                return date.fromisoformat(part.split("=", 1)[1])
        return today_et()


def quarantine_unreadable(path: DataPath, exc: BaseException) -> Quarantined:
    """Move aside a file a read just failed on (the reader saw why; no second look)."""
    return Quarantined(path, quarantine(path), _reason(exc))


def sweep_corrupt(directories: list[DataPath]) -> list[Quarantined]:
    """Quarantine every unreadable `*.parquet` under the directories (footer check)."""
    found = []
    for directory in directories:
        for f in (e.path for e in datafs.list_files(directory, "*.parquet")):
            q = quarantine_if_unreadable(f)
            if q is not None:
                found.append(q)
    return found


def report_corrupt(
    layout: Layout,
    task: str,
    trade_date: date,
    found: list[Quarantined],
    *,
    slot: str | None = None,
    run_id: str | None = None,
) -> None:
    """One error-log line per quarantined file (logscan counts it; the operator re-collects)."""
    for q in found:
        text = format_error(task, trade_date, q.line(), slot=slot, run_id=run_id)
        append_error(layout, trade_date, text)


def remove_tmp_files(directory: DataPath) -> int:
    """Delete `*.tmp` leftovers of a crashed writer under `directory`; returns how many.
    (An object store has none: its writes are single PUTs.)"""
    if not datafs.is_local(directory):
        return 0
    return datafs.delete_many(e.path for e in datafs.list_files(directory, "*.tmp"))
