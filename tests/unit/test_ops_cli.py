"""qa / selfcheck command lines: `--date today`, the reports, exit codes, bad input."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import time_machine
from typer.testing import CliRunner

from collector.cli.main import app
from shared.calendar import ET
from shared.config import load_config
from shared.storage import Layout, atomic_write_parquet
from tests.support.config import tmp_config
from tests.support.tables import daily_rows, snapshot_rows

DAY = date(2026, 11, 18)


def _healthy_day(cfg_path: Path) -> Layout:
    layout = Layout.from_config(load_config(cfg_path, env={}))
    for slot in ("09:30", "10:00", "10:30", "11:00", "11:30", "12:00", "12:30", "13:00", "13:30",
                 "14:00", "14:30", "15:00", "15:30", "16:00"):  # fmt: skip
        atomic_write_parquet(
            layout.chain_file("intraday", DAY, "AAPL", slot), snapshot_rows("AAPL", slot, day=DAY)
        )
    table = daily_rows("AAPL", 4)
    table = table.set_column(
        0, "trade_date", snapshot_rows("AAPL", "16:00", day=DAY).column("trade_date")
    )
    atomic_write_parquet(layout.chain_file("daily_clean", DAY, "AAPL"), table)
    return layout


def test_qa_and_selfcheck_on_a_healthy_day(tmp_path: Path) -> None:
    cfg = tmp_config(tmp_path)
    layout = _healthy_day(cfg)
    runner = CliRunner()
    qa = runner.invoke(
        app, ["qa", "--config", str(cfg), "--date", DAY.isoformat(), "--symbols", "AAPL"]
    )
    assert qa.exit_code == 0, qa.output
    assert "slot_coverage          100.00%" in qa.output
    metrics = json.loads(layout.metrics_file(DAY).read_text())
    assert metrics["slot_coverage"] == 1.0 and metrics["oi_fill_rate"] == 1.0
    check = runner.invoke(
        app, ["selfcheck", "--config", str(cfg), "--date", DAY.isoformat(), "--symbols", "AAPL"]
    )
    assert check.exit_code == 0, check.output
    assert "selfcheck 2026-11-18: PASS" in check.output


@time_machine.travel(datetime(2026, 11, 18, 18, 0, tzinfo=ET), tick=False)
def test_today_is_accepted_and_an_empty_day_fails(tmp_path: Path) -> None:
    cfg = tmp_config(tmp_path)
    today = date(2026, 11, 18)  # a Wednesday evening: every slot of the day is due
    result = CliRunner().invoke(
        app, ["selfcheck", "--config", str(cfg), "--date", "today", "--symbols", "AAPL"]
    )
    report = (
        Layout.from_config(load_config(cfg, env={})).selfcheck_dir()
        / f"selfcheck_{today:%Y%m%d}.json"
    )
    assert report.is_file()
    doc = json.loads(report.read_text())
    assert doc["trade_date"] == today.isoformat()
    # nothing collected: every measurable gate is a breach
    assert doc["breaches"] and result.exit_code == 1, result.output
    qa = CliRunner().invoke(app, ["qa", "--config", str(cfg), "--date", "today"])
    assert qa.exit_code == 0 and "metrics written to" in qa.output


def test_bad_input_writes_nothing(tmp_path: Path) -> None:
    cfg = tmp_config(tmp_path)
    runner = CliRunner()
    for args in (
        ["selfcheck", "--date", "someday"],
        ["selfcheck", "--date", DAY.isoformat(), "--log-max-total", "-1"],
        ["qa", "--date", DAY.isoformat(), "--symbols", "A/B"],
        ["logscan", "--date", DAY.isoformat(), "--keywords", " , "],
    ):
        result = runner.invoke(app, [*args, "--config", str(cfg)])
        assert result.exit_code == 2, (args, result.output)
        assert result.output.startswith("opt-data: error: ")
    missing = runner.invoke(
        app, ["qa", "--date", DAY.isoformat(), "--config", str(tmp_path / "nope.toml")]
    )
    assert missing.exit_code == 2 and "config file not found" in missing.output
    assert not (tmp_path / "state").exists()


@time_machine.travel(datetime(2026, 11, 30, 9, 0, tzinfo=ET), tick=False)
def test_qa_of_a_day_without_a_session_or_not_begun_writes_no_metrics(tmp_path: Path) -> None:
    """qa judges like selfcheck: a weekend or holiday is bad input (exit 2, one line), and a
    session whose first slot has not come (today before 09:30, a future date) has nothing
    to measure; neither writes a metrics file that would read like a failed day."""
    cfg = tmp_config(tmp_path)
    runner = CliRunner()
    for closed, why in (("2026-11-28", "Saturday"), ("2026-11-26", "Thanksgiving")):
        result = runner.invoke(app, ["qa", "--date", closed, "--config", str(cfg)])
        assert result.exit_code == 2, (why, result.output)
        assert (
            result.output == f"opt-data: error: {closed} is not an XNYS session: nothing to check\n"
        )
    for later in ("today", "2026-12-15"):
        result = runner.invoke(app, ["qa", "--date", later, "--config", str(cfg)])
        assert result.exit_code == 0, result.output
        assert "nothing due yet" in result.output, result.output
    layout = Layout.from_config(load_config(cfg, env={}))
    assert not layout.metrics_file(date(2026, 11, 28)).parent.exists()


def test_a_data_root_that_is_a_file_stops_every_command_before_it_runs(tmp_path: Path) -> None:
    """Was: qa, compact and retention reported an empty tree (exit 0) and a snapshot spent
    the whole slot on IB before its first write failed."""
    (tmp_path / "data").write_text("not a folder")
    cfg = tmp_config(tmp_path)
    runner = CliRunner()
    for args in (
        ["qa", "--date", DAY.isoformat()],
        ["compact", "--day", DAY.isoformat()],
        ["retention", "--view", "intraday"],
        ["snapshot", "--date", DAY.isoformat(), "--slot", "10:00"],
        ["rollup", "--date", DAY.isoformat()],
    ):
        result = runner.invoke(app, [*args, "--config", str(cfg)])
        assert result.exit_code == 2, (args, result.output)
        assert result.output.startswith("opt-data: error: data root "), (args, result.output)
        assert "is a file, not a folder" in result.output, (args, result.output)
    assert not (tmp_path / "state").exists()
