"""`opt-data demo` from nothing: a simulated session end to end, PASS, and a usable result."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from shared.config import load_config
from shared.ledger import LedgerReader
from shared.storage import Layout

pytestmark = pytest.mark.slow


def test_demo_runs_a_full_session_and_passes_selfcheck(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "collector.cli.main",
            "demo",
            "--out",
            str(out),
            "--date",
            "2026-11-18",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "selfcheck: PASS" in proc.stdout
    config = out / "opt-data.demo.toml"
    assert f"opt-data mcp-server --config {config.resolve()}" in proc.stdout

    cfg = load_config(config, env={})
    layout = Layout.from_config(cfg)
    day = "2026-11-18"
    report = json.loads((layout.selfcheck_dir() / "selfcheck_20261118.json").read_text())
    assert report["status"] == "PASS" and report["breaches"] == []
    metrics = json.loads(layout.metrics_file(date(2026, 11, 18)).read_text())
    assert metrics["slot_coverage"] == 1.0 and len(metrics["slots_due"]) == 14
    assert metrics["symbols"] == ["AAPL", "MSFT", "SPX", "SPY"]

    intraday = pl.read_parquet(
        layout.view_root("intraday") / f"date={day}" / "**" / "*.parquet", hive_partitioning=False
    )
    assert intraday.select("trade_date", "sample_time", "conid").is_duplicated().sum() == 0
    assert sorted(intraday.get_column("slot").unique().to_list())[::13] == ["09:30", "16:00"]
    daily = pl.read_parquet(
        layout.view_root("daily_clean") / f"date={day}" / "**" / "*.parquet",
        hive_partitioning=False,
    )
    assert daily.height > 0 and daily.get_column("open_interest").null_count() < daily.height
    # a healthy demo logs no ERROR (enrichment never asks for contracts that expired that day)
    assert " ERROR " not in proc.stdout + proc.stderr and "Error 200" not in proc.stderr
    errors_log = layout.errors_log(date(2026, 11, 18))
    assert not errors_log.is_file() or " ERROR " not in errors_log.read_text()
    # no null open interest without a reason
    unexplained = daily.filter(
        pl.col("open_interest").is_null()
        & pl.col("missing_reason").is_null()
        & (pl.col("data_quality_flags").list.len() == 0)
    )
    assert unexplained.height == 0

    tasks = {
        (r["task"], r["status"])
        for r in LedgerReader(layout.ledger).runs_for_dates([date(2026, 11, 18)])
    }
    for task in (
        "snapshot",
        "close-snapshot",
        "rollup",
        "enrichment",
        "qa",
        "selfcheck",
        "logscan",
    ):
        assert any(t == task and s in ("ok", "partial") for t, s in tasks), (task, tasks)

    again = subprocess.run(
        [sys.executable, "-m", "collector.cli.main", "demo", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode == 2 and "was not made by `opt-data demo`" in again.stderr
