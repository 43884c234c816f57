"""Retention and compaction on a real partition tree: every row kept, ledger in step, readers ok."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import time_machine
from typer.testing import CliRunner

from collector.cli.main import app
from collector.ops.maintenance.compaction import compact_day, compact_week, count_rows, week_dates
from collector.ops.schedule.plan import PlannedTask
from collector.ops.schedule.tasks import TaskExecutor
from collector.pipeline.compacted import merge_tables
from collector.pipeline.store import write_chain
from shared.calendar import ET
from shared.config import load_config
from shared.ledger import Ledger, LedgerReader, PartitionRecord
from shared.storage import COMPACTED_FILE, Layout, atomic_write_parquet
from shared.tasks import Task
from tests.support.config import tmp_config
from tests.support.tables import snapshot_rows

WEEK = date(2026, 11, 16)  # Monday
SLOTS = ["09:30", "10:00", "10:30"]


def _write_slot(
    layout: Layout, ledger: Ledger, day: date, symbol: str, slot: str, n: int = 3
) -> pa.Table:
    table = snapshot_rows(symbol, slot, n, day=day)
    path = layout.chain_file("intraday", day, symbol, slot)
    size = atomic_write_parquet(path, table)
    ledger.record_partition(
        PartitionRecord("intraday", day, symbol, slot, str(path), n, size, 0.9, 0.8, 0), "run-1"
    )
    return table


def _week_tree(tmp_path: Path) -> tuple[Layout, Ledger]:
    cfg = load_config(tmp_config(tmp_path), env={})
    layout = Layout.from_config(cfg)
    ledger = Ledger(layout.ledger)
    for day in week_dates(WEEK)[:3]:
        for sym in ("AAPL", "MSFT"):
            for slot in SLOTS:
                _write_slot(layout, ledger, day, sym, slot)
    return layout, ledger


def _hive_count(layout: Layout) -> int:
    scan = pl.scan_parquet(layout.view_root("intraday") / "**/*.parquet", hive_partitioning=False)
    return int(scan.select(pl.len()).collect().item())


def test_compaction_keeps_every_row_and_the_unique_key(tmp_path: Path) -> None:
    layout, _ = _week_tree(tmp_path)
    days = week_dates(WEEK)
    before, hive_before = count_rows(layout, "intraday", days), _hive_count(layout)
    report = compact_week(
        layout, WEEK, today=date(2026, 11, 24), same_day=False, compression_level=3
    )
    assert before == 3 * 2 * 3 * 3 == hive_before
    assert count_rows(layout, "intraday", days) == before == _hive_count(layout) == report.rows
    assert report.files_before == 18 and len(report.items) == 6
    target = layout.underlying_dir("intraday", days[0], "AAPL") / COMPACTED_FILE
    assert sorted(p.name for p in target.parent.iterdir()) == [COMPACTED_FILE]
    meta = pq.ParquetFile(target).metadata
    assert meta.row_group(0).column(0).compression == "ZSTD"
    frame = pl.read_parquet(target)
    assert frame.select("trade_date", "sample_time", "conid").is_duplicated().sum() == 0
    assert sorted(frame.get_column("slot").unique().to_list()) == SLOTS
    rows = LedgerReader(layout.ledger).partitions_for_date(days[0], "intraday")
    assert len(rows) == 6 and {r["path"] for r in rows if r["underlying"] == "AAPL"} == {
        str(target)
    }
    assert all(r["rows"] == 3 and r["quote_fill"] == 0.9 for r in rows)


def test_recollected_slot_after_compaction_replaces_its_copy(tmp_path: Path) -> None:
    layout, ledger = _week_tree(tmp_path)
    today = date(2026, 11, 24)
    compact_week(layout, WEEK, today=today, same_day=False, compression_level=3)
    day = week_dates(WEEK)[0]
    _write_slot(layout, ledger, day, "AAPL", "10:00", n=5)  # a re-run of one slot, now 5 rows
    again = compact_week(layout, WEEK, today=today, same_day=False, compression_level=3)
    assert [(i.underlying, i.rows_out) for i in again.items] == [("AAPL", 11)]
    frame = pl.read_parquet(layout.underlying_dir("intraday", day, "AAPL") / COMPACTED_FILE)
    assert frame.filter(pl.col("slot") == "10:00").height == 5
    assert frame.select("trade_date", "sample_time", "conid").is_duplicated().sum() == 0


def test_merge_drops_exact_key_repeats_only() -> None:
    a = snapshot_rows("AAPL", "09:30", 3)
    merged, dropped = merge_tables(None, [a, a.slice(0, 1)])
    assert (merged.num_rows, dropped) == (3, 1)


def test_today_is_not_compacted_unless_enabled(tmp_path: Path) -> None:
    layout, _ = _week_tree(tmp_path)
    report = compact_week(
        layout, WEEK, today=date(2026, 11, 17), same_day=False, compression_level=3
    )
    assert {i.trade_date for i in report.items} == {date(2026, 11, 16)}
    assert len(report.skipped_dates) == 2


def test_compact_cli_reports_counts(tmp_path: Path) -> None:
    _week_tree(tmp_path)
    cfg = tmp_config(tmp_path)
    result = CliRunner().invoke(app, ["compact", "--config", str(cfg), "--week", "2026-W47"])
    assert result.exit_code == 0, result.output
    assert "18 slot files into 6 files; rows 54 -> 54" in result.output
    bad = CliRunner().invoke(app, ["compact", "--config", str(cfg), "--week", "2026-47"])
    assert bad.exit_code == 2 and "ISO week" in bad.output


@time_machine.travel(datetime(2026, 11, 30, 8, 0, tzinfo=ET), tick=False)
def test_retention_removes_old_dates_and_their_ledger_rows(tmp_path: Path) -> None:
    cfg_path = tmp_config(tmp_path)
    layout = Layout.from_config(load_config(cfg_path, env={}))
    ledger = Ledger(layout.ledger)
    today = date(2026, 11, 30)  # the CLI's "today" below comes from the same frozen clock
    old, recent = today - timedelta(days=70), today - timedelta(days=5)
    for day in (old, recent):
        _write_slot(layout, ledger, day, "AAPL", "09:30")
    errors = layout.run_logs / "errors"
    errors.mkdir(parents=True)
    (errors / f"errors_{old:%Y%m%d}.log").write_text("x\n")
    (errors / f"summary_{recent:%Y%m%d}.json").write_text("{}\n")
    runner = CliRunner()
    dry = runner.invoke(
        app,
        [
            "retention",
            "--config",
            str(cfg_path),
            "--view",
            "intraday",
            "--older-than",
            "60",
            "--dry-run",
        ],
    )
    assert dry.exit_code == 0 and f"would remove {layout.date_dir('intraday', old)}" in dry.output
    assert layout.date_dir("intraday", old).is_dir()
    result = runner.invoke(
        app, ["retention", "--config", str(cfg_path), "--view", "intraday", "--older-than", "60"]
    )
    assert result.exit_code == 0, result.output
    assert f"removing {layout.date_dir('intraday', old)}" in result.output
    assert (
        not layout.date_dir("intraday", old).exists()
        and layout.date_dir("intraday", recent).is_dir()
    )
    assert LedgerReader(layout.ledger).partitions_for_date(old) == []
    assert len(LedgerReader(layout.ledger).partitions_for_date(recent)) == 1
    assert count_rows(layout, "intraday", [recent]) == 3
    errs = runner.invoke(
        app, ["retention", "--config", str(cfg_path), "--view", "errors", "--older-than", "30"]
    )
    assert errs.exit_code == 0 and sorted(p.name for p in errors.iterdir()) == [
        f"summary_{recent:%Y%m%d}.json"
    ]
    bad = runner.invoke(
        app, ["retention", "--config", str(cfg_path), "--view", "daily", "--older-than", "30"]
    )
    assert bad.exit_code == 2 and "unknown retention view" in bad.output


def test_a_slot_collected_after_compaction_rewrites_the_compacted_file(tmp_path: Path) -> None:
    """The tree read with DuckDB alone (a plain glob) never counts a row twice."""
    cfg = load_config(tmp_config(tmp_path), env={})
    layout, ledger = Layout.from_config(cfg), Ledger(Layout.from_config(cfg).ledger)
    day = week_dates(WEEK)[0]
    for sym in ("AAPL", "MSFT"):
        for slot in SLOTS:
            _write_slot(layout, ledger, day, sym, slot)
    compact_day(layout, day, compression_level=3)
    again = snapshot_rows("AAPL", "10:00", 5, day=day)  # the slot collected again: 5 rows
    rec = write_chain(cfg, layout, ledger, "intraday", day, "AAPL", "10:00", again, "run-2")
    directory = layout.underlying_dir("intraday", day, "AAPL")
    assert sorted(p.name for p in directory.iterdir()) == [COMPACTED_FILE]
    assert rec.path == str(directory / COMPACTED_FILE) and rec.rows == 5
    glob = f"{layout.view_root('intraday')}/**/*.parquet"
    con = duckdb.connect()
    ((rows, keys),) = con.execute(
        "SELECT count(*), count(DISTINCT (underlying, trade_date, sample_time, conid)) "
        f"FROM read_parquet('{glob}', hive_partitioning = true)"
    ).fetchall()
    assert rows == keys == 2 * 3 * 3 - 3 + 5
    per_slot = dict(
        con.execute(
            f"SELECT slot, count(*) FROM read_parquet('{glob}', hive_partitioning = true) "
            "WHERE underlying = 'AAPL' GROUP BY slot"
        ).fetchall()
    )
    assert per_slot == {"09:30": 3, "10:00": 5, "10:30": 3}
    led = {r["slot"]: r for r in LedgerReader(layout.ledger).partitions_for_date(day, "intraday")
           if r["underlying"] == "AAPL"}  # fmt: skip
    assert led["10:00"]["rows"] == 5 and led["10:00"]["run_id"] == "run-2"


async def test_the_scheduler_compact_task_merges_the_day(tmp_path: Path) -> None:
    cfg = load_config(tmp_config(tmp_path), env={})
    layout, ledger = Layout.from_config(cfg), Ledger(Layout.from_config(cfg).ledger)
    day = week_dates(WEEK)[0]
    for slot in SLOTS:
        _write_slot(layout, ledger, day, "AAPL", slot)
    at = datetime.combine(day, time(17, 30), ET)  # after the rollup, as the plan puts it
    outcome = await TaskExecutor(cfg)(PlannedTask(at, Task.COMPACT, day))
    assert outcome.status == "ok" and outcome.rows == 9, outcome.message
    directory = layout.underlying_dir("intraday", day, "AAPL")
    assert [p.name for p in directory.iterdir()] == [COMPACTED_FILE]
    runs = LedgerReader(layout.ledger).runs_for_dates([day])
    assert [(r["task"], r["status"]) for r in runs] == [("compact", "ok")]
