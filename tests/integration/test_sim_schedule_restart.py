"""`schedule --live` on the simulator's fast clock through a gateway restart.

The scheduler, every task, the ib_async client and the simulator are the real ones. Only
time is driven: one clock (the simulator's) is the truth, and the process's wall clock
(time-machine) follows it. While the collector has a connection open, time runs at real
speed, so a task takes the seconds it really takes; while it waits for its next job, the
clock jumps ahead in steps of a few simulated minutes to that job. APScheduler sleeps on
the event loop's monotonic clock, which time-machine does not move, so its timer is made
to poll (every 20 ms) instead of sleeping the whole simulated wait.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest
import time_machine
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from typer.testing import CliRunner

from collector.cli.main import app
from collector.gateway_sim import FaultConfig, SimConfig, SimThread
from shared.calendar import ET
from shared.config import load_config
from shared.ledger import LedgerReader
from shared.storage import Layout
from tests.integration.test_ops_schedule import _config  # the same fast collector config

DAY = date(2026, 11, 18)  # a Wednesday; enrichment runs Thursday 04:30
START = datetime(2026, 11, 18, 9, 25, tzinfo=ET)
STEP = timedelta(minutes=5)  # the largest jump: below the 120 s grace is not needed, the
# jump ends exactly at the next job; steps only let the simulator see each instant pass
SLOTS = [f"{h:02d}:{m:02d}" for h in range(9, 17) for m in (0, 30) if (9, 30) <= (h, m) <= (16, 0)]

pytestmark = pytest.mark.slow


class FastClock:
    """Keeps the process clock on the simulator's and jumps both while the collector idles."""

    def __init__(self, sim: SimThread, traveller: time_machine.Coordinates) -> None:
        self.sim = sim
        self.traveller = traveller
        self.next_job: datetime | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def poll_timer(self, scheduler: AsyncIOScheduler, wait_seconds: float | None) -> None:
        """Replaces AsyncIOScheduler._start_timer: remember the next job, poll soon."""
        scheduler._stop_timer()
        if wait_seconds is not None:
            self.next_job = datetime.now(ET) + timedelta(seconds=wait_seconds)
            scheduler._timeout = scheduler._eventloop.call_later(0.02, scheduler.wakeup)

    def _busy(self) -> bool:
        """A task is talking to the gateway: let time run at its real pace."""
        return bool(self.sim.sim._connections)

    def _run(self) -> None:
        idle_since: float | None = None
        while not self._stop.wait(0.01):
            now = self.sim.clock.now()
            if self._busy() or self.next_job is None or self.next_job <= now:
                idle_since = None
                continue
            idle_since = idle_since or now.timestamp()
            if now.timestamp() - idle_since < 0.05:  # settle: a task may be starting
                continue
            target = min(self.next_job, now + STEP)
            self.sim.clock.set(target, speed=1.0)
            self.traveller.move_to(target)

    def __enter__(self) -> FastClock:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


@pytest.fixture
def restart_sim(request: pytest.FixtureRequest) -> Iterator[SimThread]:
    at, minutes = request.param
    faults = FaultConfig(nightly_restart=at, restart_minutes=minutes)
    sim = SimThread(SimConfig.fast(clock_start=START, faults=faults))
    sim.start()
    try:
        yield sim
    finally:
        sim.stop()


def _run_live_day(
    tmp_path: Path, sim: SimThread, monkeypatch: pytest.MonkeyPatch
) -> tuple[int, str, list[dict]]:
    cfg = _config(tmp_path, sim.port)
    with (
        time_machine.travel(sim.clock.now(), tick=True) as traveller,
        FastClock(sim, traveller) as clock,
    ):
        monkeypatch.setattr(
            AsyncIOScheduler, "_start_timer", lambda sched, wait: clock.poll_timer(sched, wait)
        )
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
    layout = Layout.from_config(load_config(cfg, env={}))
    return result.exit_code, result.output, LedgerReader(layout.ledger).runs_for_dates([DAY])


def _slots(runs: list[dict], *statuses: str) -> list[str]:
    return sorted(r["slot"] for r in runs if r["task"] == "snapshot" and r["status"] in statuses)


@pytest.mark.parametrize("restart_sim", [(time(23, 45), 3.0)], indirect=True)
def test_a_live_day_rides_through_the_nightly_restart(
    tmp_path: Path, restart_sim: SimThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, output, runs = _run_live_day(tmp_path, restart_sim, monkeypatch)
    assert code == 0, output
    assert restart_sim.sim.stats.restarts == 1, output  # 23:45: between close and enrichment
    assert _slots(runs, "ok", "partial") == SLOTS, output
    done = {r["task"] for r in runs if r["status"] in ("ok", "partial")}
    assert {"close-snapshot", "rollup", "enrichment"} <= done, output
    assert "all scheduled tasks done: exiting (idle)" in output


@pytest.mark.parametrize("restart_sim", [(time(11, 10), 40.0)], indirect=True)
def test_slots_inside_an_outage_are_missed_and_alerted_the_rest_collected(
    tmp_path: Path, restart_sim: SimThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, output, runs = _run_live_day(tmp_path, restart_sim, monkeypatch)
    assert code == 1, output  # a missed slot fails the day
    assert _slots(runs, "missed") == ["11:30"], output
    assert _slots(runs, "ok", "partial") == [s for s in SLOTS if s != "11:30"], output
    errors = (tmp_path / "state").rglob("errors*")
    text = "".join(p.read_text() for p in errors if p.is_file())
    assert "11:30" in text and "cannot connect to IB" in text
