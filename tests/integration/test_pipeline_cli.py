"""`opt-data snapshot` as a process: bad input, and SIGKILL in the middle of a slot."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from collector.gateway_sim import DwellConfig, SimThread
from shared.config import AppConfig
from shared.ledger import LedgerReader
from shared.storage import Layout
from tests.support.pipeline import SIM_DAY, all_files, sim_config, write_config

OPT_DATA = [sys.executable, "-m", "collector.cli.main"]


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*OPT_DATA, *args], capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="module")
def pipeline_sim_thread() -> Iterator[SimThread]:
    slow = DwellConfig(median=0.2, sigma=0.3, low=0.1, high=0.4)
    with SimThread(sim_config(dwell=slow)) as sim:
        yield sim


@pytest.mark.parametrize(
    ("args", "symbols", "message"),
    [
        (
            ["--date", "2026-11-18", "--slot", "11:00", "--symbols", "ZZZZ"],
            None,
            "unknown symbol ZZZZ",
        ),
        (
            ["--date", "2026-11-18", "--slot", "11:00", "--symbols", "NOOPT"],
            None,
            "NOOPT has no listed options",
        ),
        (["--date", "2026-11-18", "--slot", "11:00"], [], "lists no symbols"),
        (["--date", "2026-11-21", "--slot", "11:00"], None, "2026-11-21 is not an XNYS session"),
        (
            ["--date", "2026-11-27", "--slot", "15:00"],
            None,
            "slot 15:00 is outside the 2026-11-27 session",
        ),
        (["--date", "2026-11-18", "--slot", "9:99"], None, "slot must be HH:MM"),
    ],
)
def test_bad_input_one_line_exit_2_nothing_written(
    tmp_path: Path,
    pipeline_sim_thread: SimThread,
    args: list[str],
    symbols: list[str] | None,
    message: str,
) -> None:
    cfg = write_config(tmp_path / "run", pipeline_sim_thread.port, symbols)
    before = set(all_files(tmp_path))
    proc = run_cli("snapshot", *args, "--config", str(cfg.source_file))
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert set(all_files(tmp_path)) == before  # nothing written: no data, ledger, cache, logs


def _wait_for_first_file(root: Path, proc: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if list(root.rglob("slot=*.parquet")):
            return
        if proc.poll() is not None:
            raise AssertionError(
                f"snapshot ended before the kill: {proc.stderr.read() if proc.stderr else ''}"
            )
        time.sleep(0.01)
    raise AssertionError("no partition file appeared")


def _expected_contracts(cfg: AppConfig, symbols: list[str]) -> int:
    import json

    layout = Layout.from_config(cfg)
    return sum(
        len(json.loads(layout.contract_cache_file(s, SIM_DAY).read_text())["contracts"])
        for s in symbols
    )


def test_sigkill_mid_snapshot_then_rerun_resumes(
    tmp_path: Path, pipeline_sim_thread: SimThread
) -> None:
    symbols = ["AAPL", "MSFT", "NVDA", "TSLA", "QQQ"]
    cfg = write_config(tmp_path, pipeline_sim_thread.port, symbols, max_lines=4)
    args = ["snapshot", "--date", "2026-11-18", "--slot", "11:00", "--config", str(cfg.source_file)]
    proc = subprocess.Popen(
        [*OPT_DATA, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    layout = Layout.from_config(cfg)
    try:
        _wait_for_first_file(layout.date_dir("intraday", SIM_DAY), proc)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        if proc.stdout:
            proc.stdout.close()
        if proc.stderr:
            proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    written_before = sorted(layout.date_dir("intraday", SIM_DAY).rglob("slot=*.parquet"))
    assert 1 <= len(written_before) < len(symbols)
    mtimes = {p: p.stat().st_mtime_ns for p in written_before}

    rerun = run_cli(*args)
    assert rerun.returncode == 0, rerun.stderr
    files = sorted(layout.date_dir("intraday", SIM_DAY).rglob("slot=*.parquet"))
    assert len(files) == len(symbols)
    assert not [p for p in layout.data.rglob("*") if p.name.endswith(".tmp")]
    # The resumed run skipped what the killed run had already written.
    assert all(p.stat().st_mtime_ns == mtimes[p] for p in written_before)
    tables = [pq.read_table(p) for p in files]  # every file is complete and readable
    conids = [c for t in tables for c in t.column("conid").to_pylist()]
    assert len(conids) == len(set(conids)) == _expected_contracts(cfg, symbols)
    ingest_ids = {i for t in tables for i in t.column("ingest_id").to_pylist()}
    assert len(ingest_ids) == 1
    runs = [
        r for r in LedgerReader(layout.ledger).runs_for_dates([SIM_DAY]) if r["task"] == "snapshot"
    ]
    statuses = sorted(r["status"] for r in runs)
    assert statuses == ["failed", "ok"]
    assert any((r["error_summary"] or "").startswith("interrupted") for r in runs)
    parts = LedgerReader(layout.ledger).partitions_for_date(SIM_DAY, "intraday")
    assert len(parts) == len(symbols)
