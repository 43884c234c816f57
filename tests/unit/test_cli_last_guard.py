"""An unforeseen failure reaches the operator as one line and the errors log as a stack."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.config import tmp_config


def test_an_unforeseen_failure_is_one_line_and_its_stack_is_kept(tmp_path: Path) -> None:
    cfg = tmp_config(tmp_path)
    logs = tmp_path / "state" / "run_logs"
    logs.mkdir(parents=True)
    (logs / "metrics").write_text("a file where qa writes its metrics folder\n")
    env = {**os.environ, "OPT_DATA_NOW": "2026-11-18T15:00:00-05:00"}
    proc = subprocess.run(
        [sys.executable, "-m", "collector.cli.main", "qa", "--config", str(cfg),
         "--date", "2026-11-18", "--symbols", "SPY"],
        capture_output=True, text=True, timeout=120, check=False, env=env,
    )  # fmt: skip
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("opt-data: error: qa: FileExistsError: ")
    errors = logs / "errors" / "errors_20261118.log"
    assert f"(stack in {errors})" in lines[0]
    text = errors.read_text(encoding="utf-8")
    assert text.splitlines()[0].split(" ", 1)[1].startswith("ERROR task=qa trade_date=2026-11-18")
    assert "Traceback (most recent call last)" in text
