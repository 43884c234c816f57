"""`schedule --simulate` end to end against the simulator (real ib_async client), then the
acceptance checks: selfcheck PASS on a healthy day, FAIL (exit 1) on a day with injected faults."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, datetime, time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from collector.cli.main import app
from collector.gateway_sim import FaultConfig, SimConfig, SimThread
from collector.lock import RunLock
from shared.calendar import ET
from shared.config import load_config
from shared.ledger import LedgerReader
from shared.storage import Layout
from tests.support.config import tmp_config

DAY = date(2026, 11, 18)  # a Wednesday: no expiry of the test universe that day
FAST = """
[discovery]
strikes_per_side = 2
max_strikes_per_expiry = 4
near_weeklies = 1
monthlies = 1
quarterlies = 0
max_days_to_expiry = 45

[snapshot]
subscription_timeout_sec = 2.0
subscription_poll_interval = 0.05

[enrichment]
timeout_sec = 3.0
"""


def _config(tmp_path: Path, port: int) -> Path:
    path = tmp_config(tmp_path)
    text = path.read_text(encoding="utf-8").replace("port = 4002", f"port = {port}")
    for section in ("discovery", "snapshot", "enrichment"):  # FAST redefines them
        text = re.sub(rf"\n\[{section}\]\n.*?(?=\n\[)", "\n", text, flags=re.S)
    path.write_text(text + FAST, encoding="utf-8")
    return path


def _ran(output: str) -> list[str]:
    """Task labels in the order the scheduler reported them done."""
    return [
        line.split("]", 1)[1].split()[0] for line in output.splitlines() if line.startswith("[")
    ]


@pytest.fixture
def sim_factory() -> Iterator[list[SimThread]]:
    started: list[SimThread] = []
    yield started
    for sim in started:
        sim.stop()


def _start(sim_factory: list[SimThread], **overrides: object) -> SimThread:
    sim = SimThread(SimConfig.fast(clock_start=datetime.combine(DAY, time(12, 0), ET), **overrides))
    sim.start()
    sim_factory.append(sim)
    return sim


def _simulate(cfg: Path, *extra: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        app,
        [
            "schedule",
            "--simulate",
            "--config",
            str(cfg),
            "--date",
            DAY.isoformat(),
            "--symbols",
            "AAPL",
            *extra,
        ],
    )
    return result.exit_code, result.output


def test_simulate_runs_the_whole_day_and_selfcheck_passes(
    tmp_path: Path, sim_factory: list[SimThread]
) -> None:
    sim = _start(sim_factory)
    cfg = _config(tmp_path, sim.port)
    code, output = _simulate(cfg)
    assert code == 0, output
    assert "plan for 2026-11-18 (22 tasks, ET)" in output
    ran = _ran(output)
    assert ran[0] == "precheck" and ran[1] == "snapshot@09:30" and ran[14] == "snapshot@16:00"
    assert ran[15:] == [
        "close-snapshot@16:00",
        "rollup",
        "qa",
        "logscan@17:30",
        "enrichment",
        "selfcheck",
        "logscan",
    ]

    layout = Layout.from_config(load_config(cfg, env={}))
    runs = LedgerReader(layout.ledger).runs_for_dates([DAY])
    snapshot_slots = sorted(
        r["slot"] for r in runs if r["task"] == "snapshot" and r["status"] in ("ok", "partial")
    )
    assert len(snapshot_slots) == 14 and snapshot_slots[0] == "09:30"
    assert layout.metrics_file(DAY).is_file() and layout.errors_summary(DAY).is_file()

    # an interrupted writer's temp file, old enough to be abandoned
    stale = layout.date_dir("intraday", DAY) / "underlying=AAPL" / ".slot=0930.parquet.abc.tmp"
    stale.write_bytes(b"partial")
    old = datetime(2026, 11, 18, 12, 0).timestamp()
    os.utime(stale, (old, old))
    check = CliRunner().invoke(
        app, ["selfcheck", "--config", str(cfg), "--date", DAY.isoformat(), "--log-max-total", "0"]
    )
    assert check.exit_code == 0, check.output
    assert "selfcheck 2026-11-18: PASS" in check.output
    assert f"removed leftover temp file {stale}" in check.output and not stale.exists()
    report = json.loads((layout.selfcheck_dir() / "selfcheck_20261118.json").read_text())
    assert report["status"] == "PASS" and report["tmp_removed"] == [str(stale)]
    assert report["metrics"]["slot_coverage"] == 1.0 and report["metrics"]["oi_fill_rate"] >= 0.95

    # a second scheduler on the same state directory is refused while the first runs
    with RunLock(layout.run_locks(), "scheduler", command="schedule --live"):
        code, output = _simulate(cfg)
    assert code == 1 and "lock exists" in output and "scheduler.lock" in output


async def _build_cache(cfg: Path) -> None:
    from collector.pipeline.jobs.precheck import precheck_contract_cache

    await precheck_contract_cache(load_config(cfg, env={}), DAY, ["AAPL"], rebuild=True)


def test_injected_faults_make_selfcheck_fail(tmp_path: Path, sim_factory: list[SimThread]) -> None:
    # The morning's contract cache is built while the gateway is healthy ...
    healthy = _start(sim_factory)
    cfg = _config(tmp_path, healthy.port)
    asyncio.run(_build_cache(cfg))
    healthy.stop()
    # ... then market data slows to a crawl: every line times out before its quotes arrive.
    faulty = _start(sim_factory, faults=FaultConfig(slow_ticks_factor=2000.0))
    cfg.write_text(cfg.read_text().replace(f"port = {healthy.port}", f"port = {faulty.port}"))
    code, output = _simulate(cfg, "--fail-on-missing-cache")
    assert code == 1, output
    layout = Layout.from_config(load_config(cfg, env={}))
    metrics = json.loads(layout.metrics_file(DAY).read_text())
    # files were written for every slot, but rows without quotes are not coverage
    assert len(list(layout.date_dir("intraday", DAY).rglob("slot=*.parquet"))) == 14
    assert metrics["slot_coverage"] == 0.0, output
    check = CliRunner().invoke(app, ["selfcheck", "--config", str(cfg), "--date", DAY.isoformat()])
    assert check.exit_code == 1, check.output
    assert "! slot_coverage: 0.00% (needs >= 90%) BREACH" in check.output
    assert "selfcheck 2026-11-18: FAIL" in check.output
    logscan = CliRunner().invoke(
        app, ["logscan", "--config", str(cfg), "--date", DAY.isoformat(), "--max-total", "0"]
    )
    assert logscan.exit_code == 1 and '"total": 0' not in logscan.output


def test_live_started_after_the_day_records_every_slot_missed_and_runs_the_rest(
    tmp_path: Path, sim_factory: list[SimThread]
) -> None:
    sim = _start(sim_factory)
    cfg = _config(tmp_path, sim.port)
    result = CliRunner().invoke(
        app,
        [
            "schedule",
            "--live",
            "--exit-when-idle",
            "--config",
            str(cfg),
            "--date",
            DAY.isoformat(),
            "--symbols",
            "AAPL",
        ],
    )
    assert result.exit_code == 1, result.output  # missed slots make the day fail
    assert "all scheduled tasks done: exiting (idle)" in result.output
    ran = _ran(result.output)
    assert ran[0] == "precheck"
    assert sorted(r for r in ran if r.startswith("snapshot@")) == sorted(
        f"snapshot@{s}" for s in _slots()
    )
    assert ran[-7:] == [
        "close-snapshot@16:00",
        "rollup",
        "qa",
        "logscan@17:30",
        "enrichment",
        "selfcheck",
        "logscan",
    ]
    layout = Layout.from_config(load_config(cfg, env={}))
    runs = LedgerReader(layout.ledger).runs_for_dates([DAY])
    missed = sorted(r["slot"] for r in runs if r["status"] == "missed")
    assert missed == _slots()
    assert any(r["task"] == "close-snapshot" and r["status"] == "ok" for r in runs)
    report = json.loads((layout.selfcheck_dir() / "selfcheck_20261118.json").read_text())
    assert report["status"] == "FAIL" and any("missed_runs" in b for b in report["breaches"])


def _slots() -> list[str]:
    return [
        f"{h:02d}:{m:02d}" for h in range(9, 17) for m in (0, 30) if (9, 30) <= (h, m) <= (16, 0)
    ]


def test_continuous_keeps_running_until_sigterm_then_releases_the_lock(
    tmp_path: Path, sim_factory: list[SimThread]
) -> None:
    sim = _start(sim_factory)
    cfg = _config(tmp_path, sim.port)
    cmd = [sys.executable, "-m", "collector.cli.main", "schedule", "--live", "--continuous"]
    proc = subprocess.Popen(
        [*cmd, "--config", str(cfg), "--symbols", "AAPL", "--log-level", "WARNING"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lock = tmp_path / "state" / "run_locks" / "scheduler.lock"
    seen: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            seen.append(line)
            if line.startswith("continuous: sessions are initialised every weekday at 09:20 ET"):
                break
        assert lock.is_file() and json.loads(lock.read_text())["pid"] == proc.pid
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, "".join(seen) + rest
    assert "stopping on signal" in rest
    assert not lock.exists()
