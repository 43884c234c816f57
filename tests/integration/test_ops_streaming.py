"""`opt-data streaming` against the simulator: lines open, parts are flushed, clean exit."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

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


def test_streaming_writes_parts_and_exits_at_the_duration(tmp_path: Path) -> None:
    # the market is open (Wednesday 11:00 ET) for the collector's clock and the simulator's
    with (
        time_machine.travel(MID_SESSION, tick=True),
        SimThread(SimConfig.fast(clock_start=MID_SESSION)) as sim,
    ):
        cfg_path = tmp_config(tmp_path)
        text = cfg_path.read_text().replace("port = 4002", f"port = {sim.port}")
        text = text.replace('underlyings = ["SPY", "QQQ"]', 'underlyings = ["SPY"]')
        text = text.replace("flush_interval_sec = 60.0", "flush_interval_sec = 0.5")
        cfg_path.write_text(text)
        result = CliRunner().invoke(
            app, ["streaming", "--config", str(cfg_path), "--duration", "2"]
        )
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
