"""Streaming's pure parts: contract choice, sentinel cleaning, part files, the session window."""

from __future__ import annotations

import math
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import time_machine

from collector.pipeline.sentinels import clean_price as clean
from collector.streaming.selection import near_the_money
from collector.streaming.window import duration_now, next_window
from collector.streaming.writer import ContractInfo, PartWriter, StreamingSummary, next_part
from shared.calendar import ET
from shared.config import load_config
from shared.schema import STREAMING_SCHEMA
from shared.storage import Layout
from tests.support.config import tmp_config


def test_near_the_money_picks_nearest_expiries_and_strikes() -> None:
    picks = near_the_money(
        ["20261113", "20261120", "20261127", "20261218"],
        [90, 95, 100, 105, 110, 115],
        101.5,
        date(2026, 11, 20),
        expiries=2,
        strikes_per_side=2,
        trading_class="AAPL",
    )
    assert sorted({p.expiry for p in picks}) == ["20261120", "20261127"]
    assert sorted({p.strike for p in picks}) == [95, 100, 105, 110]
    assert len(picks) == 2 * 4 * 2


def test_sentinels_become_null() -> None:
    assert [clean(v) for v in (-1, -2.0, math.nan, 1.7976931348623157e308, 0.0, 2.5, None)] == [
        None,
        None,
        None,
        None,
        0.0,
        2.5,
        None,
    ]


@dataclass(frozen=True)
class _Greeks:
    iv: float
    delta: float
    gamma: float
    vega: float
    theta: float
    und_price: float


@dataclass(frozen=True)
class _Quote:
    conid: int
    received_at: datetime
    market_data_type: int
    bid: float
    ask: float
    last: float
    bid_size: float
    ask_size: float
    volume: float
    model: _Greeks | None


def test_parts_are_numbered_per_underlying_and_match_the_schema(tmp_path: Path) -> None:
    layout = Layout.from_config(load_config(tmp_config(tmp_path), env={}))
    day = date(2026, 11, 20)
    info = {
        1: ContractInfo("SPY", "STK"),
        2: ContractInfo("SPY", "OPT", day, 600.0, "C"),
        3: ContractInfo("QQQ", "STK"),
    }
    now = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
    quotes = [
        _Quote(1, now, 1, 600.1, 600.2, 600.15, 5, 7, 1000, None),
        _Quote(2, now, 1, 3.1, -1, math.nan, 1, 1, 10, _Greeks(0.2, -1.0, 0.01, 0.3, -0.05, 600.1)),
        _Quote(3, now, 3, 500.0, 500.1, 500.0, 1, 1, 1, None),
        _Quote(99, now, 1, 1, 1, 1, 1, 1, 1, None),  # not ours: ignored
    ]
    summary = StreamingSummary(day)
    writer = PartWriter(layout, day, info, "ingest-1")
    writer.flush(quotes, summary)
    writer.flush(quotes[:1], summary)
    spy = layout.streaming_dir(day, "SPY")
    assert sorted(p.name for p in spy.iterdir()) == ["part-0.parquet", "part-1.parquet"]
    assert next_part(spy) == 2 and summary.rows == 4 and len(summary.parts) == 3
    table = pq.read_table(spy / "part-0.parquet")
    assert table.schema.equals(STREAMING_SCHEMA)
    option = next(r for r in table.to_pylist() if r["conid"] == 2)
    assert (
        option["ask"] is None
        and option["last"] is None
        and option["delta"] == -1.0
        and option["right"] == "C"
    )


def test_window_handles_half_days_holidays_and_weekends() -> None:
    assert duration_now(datetime(2026, 11, 20, 9, 35, tzinfo=ET)) == 6 * 3600 + 40 * 60  # 16:15
    assert duration_now(datetime(2026, 11, 27, 9, 35, tzinfo=ET)) == 3 * 3600 + 40 * 60  # 13:15
    assert duration_now(datetime(2026, 11, 26, 9, 35, tzinfo=ET)) is None
    assert duration_now(datetime(2026, 11, 20, 17, 0, tzinfo=ET)) == 0
    w = next_window(datetime(2026, 11, 20, 17, 0, tzinfo=ET), "09:35")
    assert (w.trade_date, w.start.hour, w.start.minute) == (date(2026, 11, 23), 9, 35)
    w = next_window(datetime(2026, 11, 25, 18, 0, tzinfo=ET), "09:35")  # skips Thanksgiving
    assert w.trade_date == date(2026, 11, 27) and w.end - w.start == timedelta(hours=3, minutes=40)


def test_duration_script_exit_codes() -> None:
    script = Path("scripts/ops/streaming_duration.py")
    ok = subprocess.run(
        [sys.executable, str(script), "--now", "2026-11-20T16:00:00-05:00"],
        capture_output=True,
        text=True,
    )
    assert (ok.returncode, ok.stdout.strip()) == (0, "900")
    holiday = subprocess.run(
        [sys.executable, str(script), "--now", "2026-11-26T10:00:00-05:00"],
        capture_output=True,
        text=True,
    )
    assert (holiday.returncode, holiday.stdout.strip()) == (1, "0")
    bad = subprocess.run(
        [sys.executable, str(script), "--now", "2026-11-26T10:00:00"],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "UTC offset" in bad.stderr


def test_shards_split_the_streaming_list_without_overlap(tmp_path: Path) -> None:
    from collector.cli.common import load_cfg
    from collector.streaming.loop import streaming_symbols
    from shared.universe import shard_of

    listed = ("AAPL", "MSFT", "SPY", "QQQ", "IWM", "NVDA", "TSLA")
    extra = "\n[shard]\nindex = 1\ncount = 3\n"
    cfg = load_config(tmp_config(tmp_path, extra), env={})
    cfg = cfg.model_copy(
        update={"streaming": cfg.streaming.model_copy(update={"underlyings": listed})}
    )
    assert streaming_symbols(cfg) == [s for s in listed if shard_of(s, 3) == 1]
    picked = []
    for i in (1, 2, 3):  # what `--shard i/3` selects
        shard_cfg = load_cfg(tmp_config(tmp_path, extra), f"{i}/3")
        shard_cfg = shard_cfg.model_copy(update={"streaming": cfg.streaming})
        picked += streaming_symbols(shard_cfg)
    assert sorted(picked) == sorted(listed)  # together they cover the list, each once
    whole = cfg.model_copy(update={"shard": cfg.shard.model_copy(update={"count": 1})})
    assert streaming_symbols(whole) == list(listed)


def test_a_part_never_replaces_a_part_another_writer_took(tmp_path: Path, monkeypatch) -> None:
    import pyarrow as pa

    from collector.streaming import writer
    from shared.storage import atomic_write_parquet

    directory = tmp_path / "underlying=SPY"
    directory.mkdir()
    theirs = pa.table({"x": [1]})
    atomic_write_parquet(directory / "part-0.parquet", theirs)
    atomic_write_parquet(directory / "part-1.parquet", theirs)
    try:
        atomic_write_parquet(directory / "part-1.parquet", pa.table({"x": [2]}), exclusive=True)
        raise AssertionError("an exclusive write replaced an existing file")
    except FileExistsError:
        pass
    # a writer that listed the folder before the others wrote (it believes 0 is free)
    monkeypatch.setattr(writer, "next_part", lambda d: 0)
    path, size = writer.write_new_part(directory, pa.table({"x": [3]}))
    assert path.name == "part-2.parquet" and size == path.stat().st_size
    assert [pq.read_table(directory / f"part-{n}.parquet")["x"][0].as_py() for n in (0, 1, 2)] == [
        1, 1, 3,
    ]  # fmt: skip
    assert sorted(p.name for p in directory.iterdir()) == [f"part-{n}.parquet" for n in (0, 1, 2)]


def test_the_streaming_loop_passes_its_shard() -> None:
    script = Path("scripts/ops/streaming_loop.py")
    config = Path("config/opt-data.test.toml")
    run = subprocess.run(
        [sys.executable, str(script), "--config", str(config), "--dry-run", "--shard", "2/3"],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0 and "(shard 2/3)" in run.stdout, run.stderr
    would = f"streaming --config {config} --shard 2/3 --duration "
    assert would in run.stdout, run.stdout
    bad = subprocess.run(
        [sys.executable, str(script), "--config", str(config), "--dry-run", "--shard", "4/3"],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "bad shard" in bad.stderr and "Traceback" not in bad.stderr


def test_health_says_which_shard_has_not_streamed(tmp_path: Path) -> None:
    from shared.ledger import Ledger, PartitionRecord
    from shared.queries.context import ServerContext
    from shared.queries.health import health_overview
    from shared.universe import shard_of

    cfg = load_config(tmp_config(tmp_path, "\n[shard]\nindex = 1\ncount = 2\n"), env={})
    assert cfg.streaming.underlyings == ("SPY", "QQQ")
    mine = [s for s in cfg.streaming.underlyings if shard_of(s, 2) == 1]
    assert mine == ["QQQ"]  # SPY is shard 2's
    day = date(2026, 11, 18)
    ledger = Ledger(Layout.from_config(cfg).ledger)
    run = ledger.start_run("streaming", day, shard="1/2")
    ledger.add_streamed([PartitionRecord("streaming", day, s, "", "p", 5, 50) for s in mine], run)
    ctx = ServerContext.build(cfg, allow_raw=True, allow_clean=True)
    try:
        early = health_overview(ctx, now=datetime(2026, 11, 18, 9, 30, tzinfo=ET))["streaming"]
        late = health_overview(ctx, now=datetime(2026, 11, 18, 11, 0, tzinfo=ET))["streaming"]
    finally:
        ctx.ledger.close()
    assert early["due"] is False and early["coverage"] is None and early["missing_shards"] == []
    assert late["due"] and late["streamed"] == 1 and late["rows"] == 5
    assert late["missing_shards"] == ["2/2"] and late["coverage"] == 0.5
    assert [(s["shard"], s["coverage"]) for s in late["shards"]] == [("1/2", 1.0), ("2/2", 0.0)]


@time_machine.travel(datetime(2026, 11, 18, 11, 0, tzinfo=ET), tick=True)  # a session day
def test_a_shard_holding_none_of_the_list_records_an_empty_run(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from collector.cli.main import app
    from shared.ledger import LedgerReader
    from shared.universe import shard_of

    path = tmp_config(tmp_path)
    path.write_text(
        path.read_text().replace('underlyings = ["SPY", "QQQ"]', 'underlyings = ["SPY"]')
    )
    assert shard_of("SPY", 2) == 2
    args = ["streaming", "--config", str(path), "--duration", "1", "--shard", "1/2"]
    result = CliRunner().invoke(app, args)  # never connects: nothing listens on its port
    assert result.exit_code == 0, result.output
    assert "shard 1/2: 0 underlyings, 0 lines" in result.output
    runs = LedgerReader(Layout.from_config(load_config(path, env={})).ledger).recent_runs(5)
    assert [(r["task"], r["shard"], r["status"]) for r in runs] == [("streaming", "1/2", "ok")]
    bad = CliRunner().invoke(app, [*args[:-1], "3/2"])
    assert bad.exit_code == 2 and "--shard: bad shard 3/2" in bad.output


@time_machine.travel(datetime(2026, 11, 28, 10, 0, tzinfo=ET), tick=False)  # a Saturday
def test_streaming_on_a_day_without_a_session_writes_nothing(tmp_path: Path) -> None:
    """Was: a stream started by hand on a weekend filed its rows under date=2026-11-28."""
    from typer.testing import CliRunner

    from collector.cli.main import app

    args = ["streaming", "--config", str(tmp_config(tmp_path)), "--duration", "1"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert result.output == (
        "opt-data: error: 2026-11-28 is not an XNYS session (a weekend): nothing to stream\n"
    )
    assert not (tmp_path / "state").exists() and not (tmp_path / "data").exists()
