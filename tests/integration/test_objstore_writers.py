"""Every collector writer on an object-store data root: a real S3 server (moto, loopback)
reached through the real client chain (AWS_* variables), state on the local disk."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
import time_machine
from typer.testing import CliRunner

from collector.cli.main import app
from collector.pipeline.store import (
    CorruptFile,
    read_table,
    remove_tmp_files,
    sweep_corrupt,
    write_chain,
    write_history,
)
from shared import datafs
from shared.calendar import ET
from shared.config import AppConfig, load_config
from shared.ledger import Ledger, LedgerReader
from shared.storage import COMPACTED_FILE, Layout
from tests.support.config import tmp_config
from tests.support.s3 import S3Server, list_keys
from tests.support.tables import DAY, snapshot_rows


def _site(tmp_path: Path, s3_root: str) -> tuple[Path, AppConfig, Layout, Ledger]:
    path = tmp_config(tmp_path, data=s3_root)
    cfg = load_config(path, env={})
    layout = Layout.from_config(cfg)
    return path, cfg, layout, Ledger(layout.ledger)


def _keys(s3_srv: S3Server, s3_root: str) -> dict[str, int]:
    return list_keys(s3_srv, s3_root.split("/")[2])


def test_chain_files_are_single_objects_replaced_on_rerun(
    tmp_path: Path, s3_root: str, s3_srv: S3Server
) -> None:
    _, cfg, layout, ledger = _site(tmp_path, s3_root)
    assert isinstance(layout.state, Path) and layout.state.is_relative_to(tmp_path)
    rec = write_chain(
        cfg,
        layout,
        ledger,
        "close",
        DAY,
        "AAPL",
        "16:00",
        snapshot_rows("AAPL", "16:00", 4),
        "run-1",
    )
    key = "data/raw/ib/chain/view=close/date=2026-11-20/underlying=AAPL/slot=1600.parquet"
    assert _keys(s3_srv, s3_root) == {key: rec.bytes}
    assert (
        rec.path
        == f"{s3_root}/raw/ib/chain/view=close/date=2026-11-20/underlying=AAPL/slot=1600.parquet"
    )
    again = write_chain(
        cfg,
        layout,
        ledger,
        "close",
        DAY,
        "AAPL",
        "16:00",
        snapshot_rows("AAPL", "16:00", 6),
        "run-2",
    )
    assert _keys(s3_srv, s3_root) == {key: again.bytes}
    table = read_table(layout.chain_file("close", DAY, "AAPL", "16:00"))
    assert table is not None and table.num_rows == 6
    (row,) = LedgerReader(layout.ledger).partitions_for_date(DAY, "close")
    assert row["rows"] == 6 and row["run_id"] == "run-2" and row["path"] == rec.path
    assert not list(tmp_path.rglob("*.parquet"))  # nothing of the tree landed locally


def test_a_slot_after_compaction_rewrites_the_compacted_object(
    tmp_path: Path, s3_root: str, s3_srv: S3Server
) -> None:
    _, cfg, layout, ledger = _site(tmp_path, s3_root)
    for slot in ("09:30", "10:00"):
        write_chain(
            cfg,
            layout,
            ledger,
            "intraday",
            DAY,
            "AAPL",
            slot,
            snapshot_rows("AAPL", slot, 3),
            "run-1",
        )
    # a compacted day holds every slot in one file; the slot files are gone
    from collector.pipeline.compacted import merge_tables

    parts = [read_table(layout.chain_file("intraday", DAY, "AAPL", s)) for s in ("09:30", "10:00")]
    merged, _ = merge_tables(parts[0], [p for p in parts[1:] if p is not None])
    datafs.write_parquet(layout.compacted_file("intraday", DAY, "AAPL"), merged)
    datafs.delete_many(layout.chain_file("intraday", DAY, "AAPL", s) for s in ("09:30", "10:00"))

    rec = write_chain(
        cfg,
        layout,
        ledger,
        "intraday",
        DAY,
        "AAPL",
        "10:00",
        snapshot_rows("AAPL", "10:00", 5),
        "run-2",
    )
    prefix = "data/raw/ib/chain/view=intraday/date=2026-11-20/underlying=AAPL/"
    assert set(_keys(s3_srv, s3_root)) == {prefix + COMPACTED_FILE}
    assert rec.path.endswith(COMPACTED_FILE) and rec.rows == 5
    table = read_table(layout.compacted_file("intraday", DAY, "AAPL"))
    assert table is not None and table.num_rows == 3 + 5


def test_history_file_round_trip(tmp_path: Path, s3_root: str, s3_srv: S3Server) -> None:
    _, cfg, layout, ledger = _site(tmp_path, s3_root)
    bars = pa.table({"underlying": ["AAPL"] * 2, "bar_date": [DAY, DAY + timedelta(days=3)]})
    rec = write_history(cfg, layout, ledger, "AAPL", bars, "run-1", DAY)
    assert _keys(s3_srv, s3_root) == {
        "data/clean/ib/history/bar=1d/underlying=AAPL/part.parquet": rec.bytes
    }
    stored = read_table(layout.history_file("AAPL"))
    assert stored is not None and stored.equals(bars)
    assert read_table(layout.history_file("MSFT")) is None


def test_corrupt_objects_are_moved_aside_not_deleted(
    tmp_path: Path, s3_root: str, s3_srv: S3Server
) -> None:
    _, cfg, layout, ledger = _site(tmp_path, s3_root)
    good = write_chain(
        cfg, layout, ledger, "intraday", DAY, "AAPL", "09:30", snapshot_rows("AAPL", "09:30"), "r"
    )
    bad = layout.chain_file("intraday", DAY, "MSFT", "09:30")
    datafs.write_bytes(bad, b"PAR1 truncated by a bad copy")
    with pytest.raises(CorruptFile, match="corrupt file s3://"):
        read_table(bad)
    found = sweep_corrupt([layout.date_dir("intraday", DAY), layout.date_dir("close", DAY)])
    assert [str(q.path) for q in found] == [str(bad)]
    assert "corrupt file s3://" in found[0].line() and found[0].path_date() == DAY
    keys = _keys(s3_srv, s3_root)
    moved = [k for k in keys if ".corrupt-" in k]
    assert len(moved) == 1 and moved[0].startswith(
        "data/raw/ib/chain/view=intraday/date=2026-11-20/underlying=MSFT/slot=0930.parquet.corrupt-"
    )
    assert good.path.split("/", 3)[3] in keys  # the readable file stays
    assert remove_tmp_files(layout.date_dir("intraday", DAY)) == 0  # single PUTs leave none


@time_machine.travel(datetime(2026, 11, 30, 8, 0, tzinfo=ET), tick=False)  # the CLI's today
def test_retention_on_the_object_store(tmp_path: Path, s3_root: str, s3_srv: S3Server) -> None:
    cfg_path, cfg, layout, ledger = _site(tmp_path, s3_root)
    today = date(2026, 11, 30)
    old, recent = today - timedelta(days=70), today - timedelta(days=5)
    for day in (old, recent):
        for sym in ("AAPL", "MSFT"):
            write_chain(
                cfg,
                layout,
                ledger,
                "intraday",
                day,
                sym,
                "09:30",
                snapshot_rows(sym, "09:30", day=day),
                "r",
            )
    runner = CliRunner()
    args = ["retention", "--config", str(cfg_path), "--view", "intraday", "--older-than", "60"]
    dry = runner.invoke(app, [*args, "--dry-run"])
    assert dry.exit_code == 0 and f"would remove {layout.date_dir('intraday', old)}" in dry.output
    assert len(_keys(s3_srv, s3_root)) == 4
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    keys = _keys(s3_srv, s3_root)
    assert sorted(keys) == [
        f"data/raw/ib/chain/view=intraday/date={recent}/underlying={s}/slot=0930.parquet"
        for s in ("AAPL", "MSFT")
    ]
    reader = LedgerReader(layout.ledger)
    assert reader.partitions_for_date(old) == [] and len(reader.partitions_for_date(recent)) == 2


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ("s3:/bucket/data", "malformed"),
        ("ftp://host/data", "scheme 'ftp' unsupported"),
        ("gs://bucket/data", "needs the gcsfs package"),
    ],
)
def test_a_bad_root_is_one_line_exit_2_and_no_local_folder(
    tmp_path: Path, data: str, words: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg_path = tmp_config(tmp_path, data=data)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["retention", "--config", str(cfg_path), "--view", "intraday"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and words in lines[0] and lines[0].startswith("opt-data: error:")
    assert not any(p.name.endswith(":") for p in tmp_path.rglob("*"))


def test_an_unusable_store_is_one_line_exit_2_before_the_command_runs(
    tmp_path: Path, s3_root: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    missing = tmp_config(tmp_path, data="s3://no-such-bucket/data")
    result = runner.invoke(app, ["qa", "--config", str(missing), "--date", "2026-11-20"])
    assert result.exit_code == 2
    assert result.output.strip() == (
        "opt-data: error: data root s3://no-such-bucket/data/raw: bucket 'no-such-bucket' does not exist"
    )
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    from tests.support.s3 import forget_clients

    forget_clients()
    cfg = tmp_config(tmp_path, data=s3_root)
    result = runner.invoke(app, ["qa", "--config", str(cfg), "--date", "2026-11-20"])
    assert result.exit_code == 2
    (line,) = result.output.strip().splitlines()
    assert "NoCredentialsError" in line and "AWS_ACCESS_KEY_ID" in line


def test_streaming_parts_are_created_never_replaced(
    tmp_path: Path, s3_root: str, s3_srv: S3Server
) -> None:
    from collector.streaming.writer import next_part, write_new_part

    _, _, layout, _ = _site(tmp_path, s3_root)
    directory = layout.streaming_dir(DAY, "SPY")
    table = pa.table({"underlying": ["SPY"] * 3, "bid": [1.0, 1.1, 1.2]})
    first, _ = write_new_part(directory, table)
    second, size = write_new_part(directory, table)
    assert (first.name, second.name) == ("part-0.parquet", "part-1.parquet")
    assert next_part(directory) == 2
    with pytest.raises(FileExistsError):  # the conditional PUT refuses an existing key
        datafs.write_parquet(second, table.slice(0, 1), exclusive=True)
    key = "data/raw/ib/streaming/date=2026-11-20/underlying=SPY/part-1.parquet"
    assert _keys(s3_srv, s3_root)[key] == size  # untouched


def _write_day(cfg: AppConfig, layout: Layout, ledger: Ledger) -> None:
    from tests.support.tables import daily_rows

    for sym, delayed in (("AAPL", 1), ("MSFT", 0)):
        for slot in ("09:30", "10:00", "10:30"):
            rows = snapshot_rows(sym, slot, 4, delayed=delayed)
            write_chain(cfg, layout, ledger, "intraday", DAY, sym, slot, rows, "r")
        daily = daily_rows(sym, 4, fallback=1, missing_oi=1)
        write_chain(cfg, layout, ledger, "daily_clean", DAY, sym, None, daily, "r")


def test_qa_measures_the_same_day_alike_on_s3_and_on_disk(tmp_path: Path, s3_root: str) -> None:
    """QA over the object store against QA over a local copy of the same day (the oracle)."""
    from datetime import UTC, datetime

    from collector.ops.checks.selfcheck import compute_metrics

    now = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    found = {}
    for name, data in (("s3", s3_root), ("local", None)):
        site = tmp_path / name
        site.mkdir()
        cfg = load_config(tmp_config(site, data=data), env={})
        layout = Layout.from_config(cfg)
        _write_day(cfg, layout, Ledger(layout.ledger))
        if name == "s3":  # a bad copy among the files: moved aside by the read, not counted
            datafs.write_bytes(layout.chain_file("intraday", DAY, "SPY", "09:30"), b"PAR1 junk")
        found[name] = compute_metrics(cfg, DAY, ["AAPL", "MSFT"], now).as_json()
    s3, local = found["s3"], found["local"]
    assert len(s3.pop("corrupt_files")) == 1 and local.pop("corrupt_files") == []
    assert s3 == local
    assert local["intraday_rows"] == 24 and local["daily_clean_rows"] == 8


def test_rollup_on_s3_equals_rollup_on_disk(tmp_path: Path, s3_root: str) -> None:
    """The rollup of one day over the object store against the same day on disk (oracle)."""
    from collector.pipeline.jobs.rollup import run_rollup

    tables = {}
    for name, data in (("s3", s3_root), ("local", None)):
        site = tmp_path / name
        site.mkdir()
        cfg = load_config(tmp_config(site, data=data), env={})
        layout = Layout.from_config(cfg)
        ledger = Ledger(layout.ledger)
        for sym in ("AAPL", "MSFT"):
            for slot in ("15:00", "15:30", "16:00"):
                rows = snapshot_rows(sym, slot, 4)
                write_chain(cfg, layout, ledger, "intraday", DAY, sym, slot, rows, "r")
            # the close view lacks a quote on MSFT: the rollup falls back to intraday
            close = snapshot_rows(sym, "16:00", 4).to_pylist()
            if sym == "MSFT":
                close[0].update(bid=None, ask=None, data_quality_flags=["missing_quote"])
            close_table = pa.Table.from_pylist(close, schema=snapshot_rows(sym, "16:00", 1).schema)
            write_chain(cfg, layout, ledger, "close", DAY, sym, "16:00", close_table, "r")
        result = run_rollup(cfg, DAY)
        assert result.status in ("ok", "partial"), result.message
        tables[name] = {
            sym: read_table(layout.chain_file("daily_clean", DAY, sym)) for sym in ("AAPL", "MSFT")
        }
        if name == "s3":
            recs = LedgerReader(layout.ledger).partitions_for_date(DAY, "daily_clean")
            assert {r["path"] for r in recs} == {
                str(layout.chain_file("daily_clean", DAY, s)) for s in ("AAPL", "MSFT")
            }
    for sym in ("AAPL", "MSFT"):
        s3, local = tables["s3"][sym], tables["local"][sym]
        assert s3 is not None and local is not None and s3.num_rows == 4
        drop = [c for c in ("ingest_id", "rollup_run_id") if c in local.column_names]
        assert s3.drop_columns(drop).equals(local.drop_columns(drop))
    strategies = tables["s3"]["MSFT"].column("rollup_strategy").to_pylist()
    assert strategies.count("close") == 3 and len(set(strategies)) == 2  # one row fell back


def test_compaction_on_s3_keeps_every_row(tmp_path: Path, s3_root: str, s3_srv: S3Server) -> None:
    from collector.ops.maintenance.compaction import compact_day, count_rows

    _, cfg, layout, ledger = _site(tmp_path, s3_root)
    for sym in ("AAPL", "MSFT"):
        for slot in ("09:30", "10:00", "10:30"):
            write_chain(
                cfg, layout, ledger, "intraday", DAY, sym, slot, snapshot_rows(sym, slot, 3), "r"
            )
    before = count_rows(layout, "intraday", [DAY])
    items = compact_day(layout, DAY, compression_level=3)
    assert [(i.underlying, i.files_in, i.rows_out) for i in items] == [
        ("AAPL", 3, 9),
        ("MSFT", 3, 9),
    ]
    prefix = "data/raw/ib/chain/view=intraday/date=2026-11-20/"
    assert sorted(_keys(s3_srv, s3_root)) == [
        f"{prefix}underlying={s}/{COMPACTED_FILE}" for s in ("AAPL", "MSFT")
    ]
    assert count_rows(layout, "intraday", [DAY]) == before == 18
    recs = LedgerReader(layout.ledger).partitions_for_date(DAY, "intraday")
    assert len(recs) == 6 and all(r["path"].endswith(COMPACTED_FILE) for r in recs)
    assert compact_day(layout, DAY, compression_level=3) == []  # nothing left to merge
