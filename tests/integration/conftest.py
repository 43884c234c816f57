"""Fixtures for simulator tests: a GatewaySim on the test's event loop and an ib_async client.

The simulated clock is pinned to a mid-session instant, so results do not depend on when
the suite runs. Fixture names start with `sim_` to stay clear of other areas' fixtures.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime

import pytest
from ib_async import IB

from collector.gateway_sim import GatewaySim, SimConfig
from shared.calendar import ET

SIM_SESSION_TIME = datetime(2026, 11, 18, 11, 0, tzinfo=ET)  # a Wednesday, mid-session


async def sim_connect(port: int, client_id: int = 11) -> IB:
    ib = IB()
    await ib.connectAsync("127.0.0.1", port, clientId=client_id, readonly=True, timeout=5)
    return ib


@pytest.fixture
def sim_config() -> SimConfig:
    """Override in a test module to change the simulator's settings."""
    return SimConfig.fast(clock_start=SIM_SESSION_TIME)


@pytest.fixture
async def sim_gateway(sim_config: SimConfig) -> AsyncIterator[GatewaySim]:
    sim = GatewaySim(sim_config)
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


@pytest.fixture
async def sim_ib(sim_gateway: GatewaySim) -> AsyncIterator[IB]:
    ib = await sim_connect(sim_gateway.port)
    try:
        yield ib
    finally:
        ib.disconnect()


class SimErrors:
    """Collects (reqId, code) of every error the client receives."""

    def __init__(self, ib: IB) -> None:
        self.seen: list[tuple[int, int]] = []
        ib.errorEvent += self._on_error

    def _on_error(self, req_id: int, code: int, text: str, contract: object) -> None:
        self.seen.append((req_id, code))

    def codes(self) -> list[int]:
        return [code for _, code in self.seen]


async def sim_wait(predicate, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    """Poll until predicate() is true; fail the test (never hang) after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


@pytest.fixture
def sim_errors(sim_ib: IB) -> SimErrors:
    return SimErrors(sim_ib)
