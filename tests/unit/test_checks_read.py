"""How QA reads a day: slot files the ledger vouches for are not opened, every other file is
read, and a file that cannot be read is moved aside and reported, whatever its footer says."""

from __future__ import annotations

import os
import sqlite3
from datetime import date
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from collector.ops.checks.dataset import _vouched, intraday_summary, partition_files, read_view
from collector.pipeline.store import write_chain
from shared.config import load_config
from shared.ledger import Ledger, LedgerReader, PartitionRecord
from shared.schema import FLAG_MISSING_QUOTE, SNAPSHOT_SCHEMA, conform
from shared.storage import Layout, atomic_write_parquet
from tests.support.config import tmp_config
from tests.support.tables import DAY, daily_rows, snapshot_rows

SLOTS = ["09:30", "10:00", "10:30"]


def mixed_rows(symbol: str, slot: str, n: int = 12) -> pa.Table:
    """Rows QA tells apart: delayed (type 3), a delayed fallback served live (type 1, no
    `delayed` flag: QA counts it, the flag does not), and rows without a quote."""
    rows = snapshot_rows(symbol, slot, n, delayed=2).to_pylist()
    rows[2]["delayed_fallback"] = True
    for row in rows[-3:]:
        row["bid"] = row["ask"] = None
        row["data_quality_flags"] = [FLAG_MISSING_QUOTE]
    return conform(pa.Table.from_pylist(rows), SNAPSHOT_SCHEMA)


def collected_day(tmp_path: Path) -> Layout:
    """Slot files written by the collector's own writer (a ledger row each)."""
    cfg = load_config(tmp_config(tmp_path), env={})
    layout = Layout.from_config(cfg)
    ledger = Ledger(layout.ledger)
    for sym in ("AAPL", "MSFT"):
        for slot in SLOTS:
            write_chain(cfg, layout, ledger, "intraday", DAY, sym, slot, mixed_rows(sym, slot),
                        "run-1")  # fmt: skip
    return layout


def listing(layout: Layout) -> list[str]:
    return [str(f) for f in partition_files(layout.date_dir("intraday", DAY))]


def by_key(frame: pl.DataFrame) -> list[tuple[object, ...]]:
    return sorted(frame.select(["underlying", "slot", "rows", "quoted", "delayed"]).iter_rows())


def test_the_ledger_vouches_for_what_the_writer_wrote_with_the_counts_of_a_full_read(
    tmp_path: Path,
) -> None:
    layout = collected_day(tmp_path)
    known, rest = _vouched(layout, DAY, listing(layout))
    assert rest == [] and known.height == 6
    full, corrupt = intraday_summary(layout, DAY, use_ledger=False)
    assert corrupt == []
    assert by_key(known) == by_key(full)
    assert by_key(full)[0] == ("AAPL", "09:30", 12, 9, 3)  # 3 delayed: 2 flagged + 1 fallback
    assert by_key(intraday_summary(layout, DAY)[0]) == by_key(full)


def test_a_file_rewritten_behind_the_ledger_or_counted_before_is_read(tmp_path: Path) -> None:
    layout = collected_day(tmp_path)
    rewritten = layout.chain_file("intraday", DAY, "AAPL", "10:00")
    atomic_write_parquet(rewritten, snapshot_rows("AAPL", "10:00", 5, delayed=5))
    # a row recorded by a writer that did not count (served_delayed None): read the file
    old = layout.chain_file("intraday", DAY, "MSFT", "10:00")
    Ledger(layout.ledger).record_partition(
        PartitionRecord("intraday", DAY, "MSFT", "10:00", str(old), 12, old.stat().st_size,
                        0.75, 1.0, 2),
        "run-0",
    )  # fmt: skip
    known, rest = _vouched(layout, DAY, listing(layout))
    assert sorted(rest) == sorted([str(rewritten), str(old)]) and known.height == 4
    summary = dict(
        ((u, s), (r, q, d)) for u, s, r, q, d in by_key(intraday_summary(layout, DAY)[0])
    )
    assert summary[("AAPL", "10:00")] == (5, 5, 5)
    assert summary[("MSFT", "10:00")] == (12, 9, 3)


def test_a_damaged_file_of_the_same_size_and_time_is_moved_aside_and_reported(
    tmp_path: Path,
) -> None:
    layout = collected_day(tmp_path)
    bad = layout.chain_file("intraday", DAY, "MSFT", "10:30")
    st = bad.stat()
    with open(bad, "r+b") as fh:  # the end of the file zeroed: same size, footer gone
        fh.seek(-64, os.SEEK_END)
        fh.write(bytes(64))
    os.utime(bad, ns=(st.st_atime_ns, st.st_mtime_ns))
    summary, corrupt = intraday_summary(layout, DAY)
    assert [q.path for q in corrupt] == [bad] and not bad.exists()
    assert corrupt[0].moved_to.is_file()
    assert ("MSFT", "10:30") not in {(u, s) for u, s, *_ in by_key(summary)}
    assert summary.height == 5


def _spoil_column(path: Path, column: str) -> None:
    """Overwrite one column's pages with garbage, leaving the footer as written."""
    meta = pq.read_metadata(path)
    names = [meta.schema.column(i).path for i in range(meta.num_columns)]
    chunk = meta.row_group(0).column(names.index(column))
    start = chunk.dictionary_page_offset or chunk.data_page_offset
    with open(path, "r+b") as fh:
        fh.seek(start)
        fh.write(b"\xab" * chunk.total_compressed_size)
    assert pq.read_metadata(path).num_rows == meta.num_rows  # the footer still reads


def test_a_file_whose_footer_reads_but_whose_pages_do_not_is_moved_aside(tmp_path: Path) -> None:
    cfg = load_config(tmp_config(tmp_path), env={})
    layout = Layout.from_config(cfg)  # no ledger rows: every file is read
    for sym in ("AAPL", "MSFT", "NVDA"):
        atomic_write_parquet(
            layout.chain_file("intraday", DAY, sym, "10:00"), mixed_rows(sym, "10:00")
        )
    bad = layout.chain_file("intraday", DAY, "MSFT", "10:00")
    _spoil_column(bad, "data_quality_flags.list.element")
    summary, corrupt = intraday_summary(layout, DAY)
    assert [q.path for q in corrupt] == [bad] and not bad.exists()
    assert [u for u, *_ in by_key(summary)] == ["AAPL", "NVDA"]


def test_files_of_an_older_schema_are_read_one_by_one_not_moved(tmp_path: Path) -> None:
    cfg = load_config(tmp_config(tmp_path), env={})
    layout = Layout.from_config(cfg)
    atomic_write_parquet(layout.chain_file("intraday", DAY, "AAPL", "10:00"),
                         mixed_rows("AAPL", "10:00"))  # fmt: skip
    older = snapshot_rows("MSFT", "10:00", 4, delayed=1).drop_columns(["data_quality_flags"])
    target = layout.chain_file("intraday", DAY, "MSFT", "10:00")
    target.parent.mkdir(parents=True)
    pq.write_table(older, target)
    summary, corrupt = intraday_summary(layout, DAY)
    assert corrupt == []
    assert by_key(summary) == [("AAPL", "10:00", 12, 9, 3), ("MSFT", "10:00", 4, 4, 1)]


def test_an_unreadable_daily_clean_file_is_moved_aside(tmp_path: Path) -> None:
    cfg = load_config(tmp_config(tmp_path), env={})
    layout = Layout.from_config(cfg)
    for sym in ("AAPL", "MSFT"):
        atomic_write_parquet(layout.chain_file("daily_clean", DAY, sym), daily_rows(sym, 5))
    bad = layout.chain_file("daily_clean", DAY, "AAPL")
    bad.write_bytes(b"PAR1 garbage")
    frame, corrupt = read_view(layout, "daily_clean", DAY, ["expiry", "rollup_strategy"])
    assert [q.path for q in corrupt] == [bad] and frame.height == 5


def test_a_ledger_from_before_the_counts_reads_as_unknown_until_a_writer_migrates_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ledger.sqlite"
    with sqlite3.connect(path) as con:  # the partitions table as it was first laid out
        con.execute(
            "CREATE TABLE partitions (view TEXT NOT NULL, trade_date TEXT NOT NULL, "
            "underlying TEXT NOT NULL, slot TEXT NOT NULL DEFAULT '', path TEXT NOT NULL, "
            "rows INTEGER NOT NULL, bytes BIGINT NOT NULL, quote_fill REAL, greeks_fill REAL, "
            "delayed_rows INTEGER DEFAULT 0, run_id TEXT, written_at TEXT NOT NULL, "
            "PRIMARY KEY (view, trade_date, underlying, slot))"
        )
        con.execute(
            "INSERT INTO partitions VALUES ('intraday', ?, 'AAPL', '10:00', 'p', 4, 40, 1.0, "
            "1.0, 0, 'r', '2026-11-20T16:00:00+00:00')",
            (DAY.isoformat(),),
        )
    con.close()
    reader = LedgerReader(path)
    assert [r["served_delayed"] for r in reader.file_summaries(DAY, "intraday")] == [None]
    ledger = Ledger(path)  # a writer lays the new column
    ledger.record_partition(
        PartitionRecord("intraday", DAY, "MSFT", "10:00", "q", 4, 40, 1.0, 1.0, 0, 2), "r2"
    )
    got = {r["underlying"]: r["served_delayed"] for r in reader.file_summaries(DAY, "intraday")}
    assert got == {"AAPL": None, "MSFT": 2}
    assert reader.file_summaries(date(2026, 11, 19), "intraday") == []


@pytest.mark.parametrize("size", [0, 7, 20])
def test_a_file_too_short_for_a_parquet_frame_is_never_vouched_for(
    tmp_path: Path, size: int
) -> None:
    layout = collected_day(tmp_path)
    f = layout.chain_file("intraday", DAY, "AAPL", "09:30")
    f.write_bytes(b"PAR1" * 8)
    with open(f, "r+b") as fh:
        fh.truncate(size)
    _, rest = _vouched(layout, DAY, listing(layout))
    assert str(f) in rest
