"""Fixtures of the console tests: a store the collector wrote against the simulated gateway.

One module-scoped simulator serves the collection (two intraday slots, close, rollup,
history bars, selfcheck) and keeps running, so the browser test can start one more
snapshot from the Operations page against it. The calendar is pinned (OPT_DATA_NOW) to
12:00 ET of the simulated session: slots up to 11:30 are due, 10:30 and 11:00 written.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
import uvicorn

from collector.console.app import build_app
from collector.gateway_sim import SimThread
from collector.ops.checks.selfcheck import run_selfcheck
from shared.calendar import ET, NOW_ENV
from shared.config import AppConfig
from tests.support.pipeline import SIM_DAY, collect_day, prime_sim, sim_config, write_config

SYMBOLS = ["AAPL", "MSFT"]
SLOTS = ("10:30", "11:00")
CONSOLE_NOW = datetime(2026, 11, 18, 12, 0, tzinfo=ET)


@dataclass(frozen=True)
class Collected:
    cfg: AppConfig
    sim: SimThread


@pytest.fixture(scope="package")
def collected(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collected]:
    root = tmp_path_factory.mktemp("console")
    before = os.environ.get(NOW_ENV)
    os.environ[NOW_ENV] = CONSOLE_NOW.isoformat()  # the jobs below ask "what day is it"
    sim = SimThread(sim_config())
    port = sim.start()
    try:
        prime_sim(sim.sim, SYMBOLS)
        cfg = write_config(root, port, SYMBOLS, timeout=0.5)

        collect_day(cfg, SLOTS, history_days=20)
        run_selfcheck(cfg, SIM_DAY, now=CONSOLE_NOW)
        yield Collected(cfg, sim)
    finally:
        sim.stop()
        if before is None:
            os.environ.pop(NOW_ENV, None)
        else:
            os.environ[NOW_ENV] = before


@contextlib.contextmanager
def serve(app: Any) -> Iterator[str]:
    """A real uvicorn server on a free loopback port, in a thread; yields its base URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "console did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture(scope="package")
def console_url(collected: Collected) -> Iterator[str]:
    with serve(build_app(collected.cfg)) as url:
        yield url
