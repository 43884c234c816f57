"""Helpers for pipeline tests: a config file under tmp_path pointed at a simulator port."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from collector.gateway_sim import GatewaySim, SimConfig
from shared.calendar import ET
from shared.config import AppConfig, load_config
from shared.storage import Layout

BASE_TOML = """
[ib]
host = "127.0.0.1"
port = {port}
client_id_pool = "test"
connect_timeout_sec = 5.0
request_timeout_sec = 10.0
max_messages_per_sec = 49.0
reconnect_attempts = 3

[paths]
data = "{root}/data"
state = "{root}/state"

[universe]
file = "{root}/universe.csv"

[acquisition]
pacing_backoff_sec = {backoff}
allow_fallback_to_delayed = {allow_delayed}

[discovery]
strikes_per_side = {strikes}
max_strikes_per_expiry = 10
near_weeklies = {weeklies}
monthlies = {monthlies}
quarterlies = 0

[snapshot]
subscription_timeout_sec = {timeout}
subscription_poll_interval = 0.05
max_lines = {max_lines}

[enrichment]
timeout_sec = {timeout}
"""


def write_config(root: Path, port: int, symbols: list[str] | None = None, **kw: Any) -> AppConfig:
    """A config whose data, state and universe live under `root`; returns it loaded."""
    root.mkdir(parents=True, exist_ok=True)
    symbols = symbols if symbols is not None else ["AAPL"]
    universe = root / "universe.csv"
    universe.write_text(
        "symbol,conid,sec_type,exchange,currency\n" + "".join(f"{s},,,,\n" for s in symbols)
    )
    values = {
        "port": port,
        "root": root,
        "backoff": "[0.2, 0.2, 0.2, 0.2]",
        "allow_delayed": "true",
        "strikes": 2,
        "weeklies": 1,
        "monthlies": 1,
        "timeout": 2.0,
        "max_lines": 100,
    }
    values.update(kw)
    text = BASE_TOML.format(**values)
    path = root / "opt-data.toml"
    path.write_text(text)
    return load_config(path, env={})


def site_config(site: Path, port: int, client_id: int, name: str, extra: str = "") -> Path:
    """One collector's config file in a shared site (data, state and universe under `site`):
    its own gateway port and fixed client id, plus `extra` TOML (e.g. its [shard])."""
    text = write_config_text(site, port)
    text = text.replace(
        'client_id_pool = "test"', f'client_id = {client_id}\nclient_id_pool = "test"'
    )
    path = site / f"{name}.toml"
    path.write_text(text + extra, encoding="utf-8")
    return path


def write_config_text(root: Path, port: int) -> str:
    """BASE_TOML with the test defaults (as write_config uses them)."""
    return BASE_TOML.format(
        port=port, root=root, backoff="[0.2, 0.2, 0.2, 0.2]", allow_delayed="true", strikes=2,
        weeklies=1, monthlies=1, timeout=2.0, max_lines=100,
    )  # fmt: skip


SIM_DAY = date(2026, 11, 18)  # a Wednesday session
SIM_SLOT_TIME = datetime(2026, 11, 18, 11, 0, tzinfo=ET)


def sim_config(**kw: Any) -> SimConfig:
    """Fast simulator settings pinned to a mid-session instant."""
    kw.setdefault("clock_start", SIM_SLOT_TIME)
    return SimConfig.fast(**kw)


@contextlib.asynccontextmanager
async def running_sim(config: SimConfig) -> AsyncIterator[GatewaySim]:
    sim = GatewaySim(config)
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


def prime_sim(sim: GatewaySim, symbols: list[str], day: date = SIM_DAY) -> None:
    """Work around the simulator resolving option conIds only for chains it has listed
    in this process (a real gateway knows every conId): list the chains up front."""
    for symbol in symbols:
        sim.book.chain(symbol, day)


def read_view(cfg: AppConfig, view: str, day: date) -> pa.Table:
    """Every file of a view's date partition, concatenated (hive columns not added)."""
    layout = Layout.from_config(cfg)
    files = sorted(layout.date_dir(view, day).rglob("*.parquet"))
    tables = [pq.read_table(f) for f in files]
    return pa.concat_tables(tables) if tables else pa.table({})


def all_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def collect_day(
    cfg: AppConfig, slots: tuple[str, ...], day: date = SIM_DAY, history_days: int = 0
) -> None:
    """Collect like a session would, against the simulator `cfg` points at: the intraday
    `slots`, the close, history bars when asked, then the rollup; each must end ok or partial."""
    import asyncio

    from collector.pipeline.jobs.close import run_close_snapshot
    from collector.pipeline.jobs.history import run_history
    from collector.pipeline.jobs.rollup import run_rollup
    from collector.pipeline.jobs.snapshot import run_snapshot

    async def collect() -> None:
        for slot in slots:
            result = await run_snapshot(cfg, day, slot, progress=False)
            assert result.status in ("ok", "partial"), (slot, result.message)
        close = await run_close_snapshot(cfg, day, progress=False)
        assert close.status in ("ok", "partial"), close.message
        if history_days:
            bars = await run_history(cfg, None, history_days)
            assert bars.status in ("ok", "partial"), bars.message

    asyncio.run(collect())
    rollup = run_rollup(cfg, day)
    assert rollup.status in ("ok", "partial"), rollup.message
