"""The gateway's daily life on the fast clock: nightly restart, weekly re-login, and an
ib_async Watchdog that rides through them by probing EUR.USD."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime, time

import pytest
from ib_async import IB, Watchdog

from collector.gateway_sim import FaultConfig, GatewaySim, SimConfig
from shared.calendar import ET
from tests.support.sim import sim_connect, sim_wait

TUESDAY_BEFORE_RESTART = datetime(2026, 11, 17, 23, 44, 58, tzinfo=ET)
SUNDAY_BEFORE_RESTART = datetime(2026, 11, 22, 23, 40, tzinfo=ET)
RESTART = FaultConfig(nightly_restart=time(23, 45), restart_minutes=2.0, sunday_relogin_hours=1)


def _config(start: datetime, speed: float) -> SimConfig:
    return SimConfig.fast(clock_start=start, speed=speed, faults=RESTART)


async def _refused(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except ConnectionRefusedError:
        return True
    writer.close()
    await writer.wait_closed()
    return False


@pytest.mark.parametrize(
    "start, speed, minutes",
    [(TUESDAY_BEFORE_RESTART, 60.0, 2.0), (SUNDAY_BEFORE_RESTART, 1200.0, 60.0)],
    ids=["nightly-restart", "sunday-relogin"],
)
async def test_every_client_is_dropped_and_the_port_refuses_until_the_gateway_is_back(
    start: datetime, speed: float, minutes: float
) -> None:
    sim = GatewaySim(_config(start, speed))
    port = await sim.start()
    ib = await sim_connect(port)
    try:
        await sim_wait(lambda: not ib.isConnected(), timeout=10)
        assert sim.outage is not None
        assert (sim.outage.end - sim.outage.start).total_seconds() == minutes * 60
        assert await _refused(port)
        await sim_wait(lambda: sim.outage is None, timeout=10)
        again = await sim_connect(port)
        assert again.isConnected() and sim.stats.restarts == 1
        again.disconnect()
    finally:
        ib.disconnect()
        await sim.stop()


@dataclasses.dataclass
class RunningGateway:
    """The Watchdog's controller: the simulator is already running, so starting and
    terminating the app are no-ops (IBC would launch and kill the gateway process)."""

    starts: int = 0

    def __bool__(self) -> bool:
        return True

    async def startAsync(self) -> None:
        self.starts += 1

    async def terminateAsync(self) -> None:
        return None


async def test_an_ib_async_watchdog_probes_eurusd_and_reconnects_after_the_restart() -> None:
    sim = GatewaySim(_config(datetime(2026, 11, 17, 23, 44, 50, tzinfo=ET), 20.0))
    port = await sim.start()
    ib, controller = IB(), RunningGateway()
    dog = Watchdog(
        controller,  # type: ignore[arg-type]
        ib,
        port=port,
        clientId=41,
        readonly=True,
        appStartupTime=0,
        appTimeout=0.3,
        retryDelay=0.2,
        probeTimeout=2,
    )
    events: list[str] = []
    dog.startedEvent += lambda _: events.append("started")
    dog.softTimeoutEvent += lambda _: events.append("probe")
    dog.hardTimeoutEvent += lambda _: events.append("hard")
    dog.start()
    try:
        await sim_wait(lambda: "probe" in events, timeout=10)  # idle: the probe answers
        await sim_wait(lambda: sim.stats.restarts == 1, timeout=10)
        await sim_wait(lambda: events.count("started") >= 2 and ib.isConnected(), timeout=20)
        assert "hard" not in events  # every probe got its EUR.USD bars
        assert controller.starts >= 2
    finally:
        dog.stop()
        await sim.stop()
