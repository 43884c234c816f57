"""`opt-data schedule` argument rules and the live mode's idle exit on a day without a session."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
import time_machine
from typer.testing import CliRunner

from collector.cli.main import app
from shared.calendar import ET
from tests.support.config import tmp_config


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "choose exactly one of --simulate or --live"),
        (["--simulate", "--live"], "choose exactly one of --simulate or --live"),
        (["--simulate", "--continuous"], "--continuous and --exit-when-idle need --live"),
        (
            ["--live", "--continuous", "--date", "2026-11-20"],
            "--date does not apply to --continuous",
        ),
        (
            ["--live", "--continuous", "--exit-when-idle"],
            "cannot be combined with --exit-when-idle",
        ),
        (["--simulate", "--date", "2026-02-30"], "date must be YYYY-MM-DD or 'today'"),
        (["--simulate", "--symbols", "AAPL,../x"], "invalid symbol"),
    ],
)
def test_bad_arguments_are_one_line_errors(tmp_path: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["schedule", "--config", str(tmp_config(tmp_path)), *args])
    assert result.exit_code == 2
    assert message in result.output
    assert not (tmp_path / "state").exists()


def test_holiday_schedules_nothing_in_either_mode(tmp_path: Path) -> None:
    cfg = str(tmp_config(tmp_path))
    for mode in (["--simulate"], ["--live", "--exit-when-idle"]):
        result = CliRunner().invoke(
            app, ["schedule", "--config", cfg, "--date", "2026-11-26", *mode]
        )
        assert result.exit_code == 0, result.output
        assert "2026-11-26 is not an XNYS session: nothing scheduled" in result.output
    lock = tmp_path / "state" / "run_locks" / "scheduler.lock"
    assert not lock.exists()  # released on exit


@time_machine.travel(datetime(2026, 11, 30, 9, 0, tzinfo=ET), tick=False)
def test_simulate_refuses_a_day_that_has_not_come(tmp_path: Path) -> None:
    """Was: `--simulate --date 2026-12-15` ran every task at once, filing today's market
    under a future date. --live of that date waits for it, and stays allowed."""
    cfg = str(tmp_config(tmp_path))
    result = CliRunner().invoke(
        app, ["schedule", "--config", cfg, "--simulate", "--date", "2026-12-15"]
    )
    assert result.exit_code == 2, result.output
    assert result.output.startswith("opt-data: error: --simulate runs the day's tasks now: ")
    assert "2026-12-15 has not come" in result.output
    assert not (tmp_path / "state").exists()
