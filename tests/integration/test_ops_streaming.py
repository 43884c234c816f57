"""`opt-data streaming` against the simulator: lines open, parts are flushed, clean exit."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl
import time_machine
from typer.testing import CliRunner

from collector.cli.main import app
from collector.gateway_sim import SimConfig, SimThread
from shared.calendar import ET
from shared.config import load_config
from shared.schema import STREAMING_SCHEMA
from shared.storage import Layout
from tests.support.config import tmp_config

MID_SESSION = datetime(2026, 11, 18, 11, 0, tzinfo=ET)  # a Wednesday, a full session


def stream_spy(tmp_path: Path, port: int) -> tuple[Path, Any]:
    """`opt-data streaming` of SPY for 2 s against the simulator on `port`, flushing every 0.5 s."""
    cfg_path = tmp_config(tmp_path)
    text = cfg_path.read_text().replace("port = 4002", f"port = {port}")
    text = text.replace('underlyings = ["SPY", "QQQ"]', 'underlyings = ["SPY"]')
    text = text.replace("flush_interval_sec = 60.0", "flush_interval_sec = 0.5")
    cfg_path.write_text(text)
    result = CliRunner().invoke(app, ["streaming", "--config", str(cfg_path), "--duration", "2"])
    return cfg_path, result


def test_streaming_writes_parts_and_exits_at_the_duration(tmp_path: Path) -> None:
    # the market is open (Wednesday 11:00 ET) for the collector's clock and the simulator's
    with (
        time_machine.travel(MID_SESSION, tick=True),
        SimThread(SimConfig.fast(clock_start=MID_SESSION)) as sim,
    ):
        cfg_path, result = stream_spy(tmp_path, sim.port)
    assert result.exit_code == 0, result.output
    assert "streaming " in result.output and "error" not in result.output
    layout = Layout.from_config(load_config(cfg_path, env={}))
    parts = sorted(layout.streaming_dir(MID_SESSION.date(), "SPY").glob("part-*.parquet"))
    assert len(parts) >= 2
    frame = pl.read_parquet(parts, hive_partitioning=False)
    assert frame.height > 0 and set(frame.columns) == set(STREAMING_SCHEMA.names)
    kinds = set(frame.get_column("sec_type").to_list())
    assert kinds == {"STK", "OPT"}
    options = frame.filter(pl.col("sec_type") == "OPT")
    # 2 expiries x 4 strikes (2 per side) x 2 rights at most
    assert 0 < options.get_column("conid").n_unique() <= 16
    assert options.filter(pl.col("bid").is_not_null()).height > 0


def test_streaming_refuses_a_bad_duration(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["streaming", "--config", str(tmp_config(tmp_path)), "--duration", "0"]
    )
    assert result.exit_code == 2 and "--duration must be > 0" in result.output


def test_streaming_never_stores_a_greek_sentinel_as_a_number(tmp_path: Path) -> None:
    # Every option's model values are IB's "not computed" sentinels (-2 greeks, -1 iv).
    faulty = SimConfig.fast(clock_start=MID_SESSION)
    faulty = replace(faulty, faults=replace(faulty.faults, missing_greeks_fraction=1.0))
    with time_machine.travel(MID_SESSION, tick=True), SimThread(faulty) as sim:
        cfg_path, result = stream_spy(tmp_path, sim.port)
    assert result.exit_code == 0, result.output
    layout = Layout.from_config(load_config(cfg_path, env={}))
    parts = sorted(layout.streaming_dir(MID_SESSION.date(), "SPY").glob("part-*.parquet"))
    options = pl.read_parquet(parts, hive_partitioning=False).filter(pl.col("sec_type") == "OPT")
    assert options.height > 0 and options.filter(pl.col("bid").is_not_null()).height > 0
    for greek in ("iv", "delta", "gamma", "vega", "theta"):
        values = options.get_column(greek).drop_nulls().to_list()
        assert all(v not in (-1.0, -2.0) for v in values), (greek, sorted(set(values))[:5])
    # the simulator sent sentinels for every option: nothing computed reaches storage
    assert options.get_column("gamma").null_count() == options.height
