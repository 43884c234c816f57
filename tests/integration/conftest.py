"""Fixtures for simulator tests: a GatewaySim on the test's event loop and an ib_async client.

The simulated clock is pinned to a mid-session instant, so results do not depend on when
the suite runs. Fixture names start with `sim_` to stay clear of other areas' fixtures.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from ib_async import IB

from collector.gateway_sim import GatewaySim, SimConfig
from tests.support.sim import SIM_SESSION_TIME, SimErrors, sim_connect


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


@pytest.fixture
def sim_errors(sim_ib: IB) -> SimErrors:
    return SimErrors(sim_ib)
