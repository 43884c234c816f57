"""logscan: keyword matching, totals, the summary file and the exit-code threshold."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from typer.testing import CliRunner

from collector.cli.main import app
from collector.ops.checks.logscan import scan_lines
from tests.support.config import tmp_config

DAY = date(2026, 11, 20)
LINES = [
    "2026-11-20T15:00:01+00:00 ERROR task=snapshot trade_date=2026-11-20 slot=10:00: boom",
    "    Traceback (most recent call last):",
    "2026-11-20T15:30:00+00:00 WARNING task=snapshot: pacing violation, backing off 30 s",
    "2026-11-20T16:00:00+00:00 CRITICAL task=rollup: ERROR writing",
    "2026-11-20T16:00:00+00:00 INFO spacing terror errors_seen=0",
]


def test_whole_words_case_insensitive_and_one_total_per_line() -> None:
    counts, total, samples = scan_lines(LINES, ("ERROR", "CRITICAL", "PACING"))
    assert counts == {"ERROR": 2, "CRITICAL": 1, "PACING": 1}
    assert total == 3
    assert samples[1].endswith("backing off 30 s")


def _write_log(cfg_path: Path, tmp_path: Path) -> Path:
    log = tmp_path / "state" / "run_logs" / "errors" / f"errors_{DAY:%Y%m%d}.log"
    log.parent.mkdir(parents=True)
    log.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    return log


def test_cli_threshold_sets_the_exit_code_and_writes_summary(tmp_path: Path) -> None:
    cfg = tmp_config(tmp_path)
    _write_log(cfg, tmp_path)
    runner = CliRunner()
    base = [
        "logscan",
        "--date",
        DAY.isoformat(),
        "--config",
        str(cfg),
        "--keywords",
        "ERROR,CRITICAL,PACING",
    ]
    over = runner.invoke(app, [*base, "--max-total", "2", "--write-summary"])
    assert over.exit_code == 1, over.output
    summary = json.loads((tmp_path / "state/run_logs/errors/summary_20261120.json").read_text())
    assert (
        summary["total"] == 3 and summary["status"] == "FAIL" and summary["counts"]["PACING"] == 1
    )
    at = runner.invoke(app, [*base, "--max-total", "3"])
    assert at.exit_code == 0, at.output
    only_pacing = runner.invoke(
        app,
        [
            "logscan",
            "--date",
            DAY.isoformat(),
            "--config",
            str(cfg),
            "--keywords",
            "PACING",
            "--max-total",
            "0",
        ],
    )
    assert only_pacing.exit_code == 1


def test_missing_log_is_zero_matches(tmp_path: Path) -> None:
    cfg = tmp_config(tmp_path)
    result = CliRunner().invoke(
        app,
        [
            "logscan",
            "--date",
            DAY.isoformat(),
            "--config",
            str(cfg),
            "--max-total",
            "0",
            "--write-summary",
        ],
    )
    assert result.exit_code == 0, result.output
    assert (
        json.loads((tmp_path / "state/run_logs/errors/summary_20261120.json").read_text())["total"]
        == 0
    )


def test_bad_date_is_one_line_usage_error(tmp_path: Path) -> None:
    cfg = tmp_config(tmp_path)
    result = CliRunner().invoke(app, ["logscan", "--date", "2026-13-40", "--config", str(cfg)])
    assert result.exit_code == 2
    assert "date must be YYYY-MM-DD or 'today'" in result.output
    assert not (tmp_path / "state").exists()
