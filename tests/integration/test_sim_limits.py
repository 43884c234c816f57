"""IB's limits, enforced by the simulator and seen by the real ib_async client."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import pytest
from ib_async import IB, Option, Stock

from collector.gateway_sim import DwellConfig, GatewaySim, Leniency, SimConfig
from tests.support.sim import SIM_SESSION_TIME, SimErrors, sim_connect, sim_wait


async def _options(ib: IB, symbol: str, count: int) -> list[Option]:
    chains = await ib.reqSecDefOptParamsAsync(symbol, "", "STK", 0)
    expiry = chains[0].expirations[1]
    details = await ib.reqContractDetailsAsync(Option(symbol, expiry, 0.0, "C", "SMART"))
    return [d.contract for d in details[:count]]  # type: ignore[misc]


async def test_more_than_50_messages_in_a_second_gets_error_100(
    sim_ib: IB, sim_errors: SimErrors, sim_gateway: GatewaySim
) -> None:
    sim_ib.client.MaxRequests = 0  # switch off the client's own throttle (45/s)
    for _ in range(60):
        sim_ib.client.reqCurrentTime()
    await sim_wait(lambda: 100 in sim_errors.codes())
    assert (-1, 100) in sim_errors.seen
    assert sim_ib.isConnected()  # a short burst is only warned about
    await asyncio.wait_for(sim_ib.reqCurrentTimeAsync(), 5)
    assert sim_gateway.stats.disconnects == 0


@pytest.mark.parametrize(
    "sim_config", [SimConfig.fast(clock_start=SIM_SESSION_TIME, rate_disconnect_after=0.2)]
)
async def test_a_client_that_keeps_exceeding_the_rate_is_disconnected(
    sim_ib: IB, sim_gateway: GatewaySim
) -> None:
    sim_ib.client.MaxRequests = 0
    for _ in range(40):  # ~200 messages/s for up to 2 s
        if not sim_ib.isConnected():
            break
        for _ in range(10):
            sim_ib.client.reqCurrentTime()
        await asyncio.sleep(0.05)
    await sim_wait(lambda: not sim_ib.isConnected())
    assert sim_gateway.stats.disconnects == 1
    assert sim_gateway.stats.errors_sent[100] >= 1


@pytest.mark.parametrize("sim_config", [SimConfig.fast(clock_start=SIM_SESSION_TIME, max_lines=3)])
async def test_lines_beyond_max_lines_get_error_101(
    sim_ib: IB, sim_errors: SimErrors, sim_gateway: GatewaySim
) -> None:
    opts = await _options(sim_ib, "AAPL", 5)
    tickers = [sim_ib.reqMktData(o, "") for o in opts[:4]]
    await sim_wait(lambda: 101 in sim_errors.codes())
    rejected = [rid for rid, code in sim_errors.seen if code == 101]
    assert len(rejected) == 1
    assert sim_gateway.stats.max_concurrent_lines == 3
    await sim_wait(lambda: all(t.bid > 0 for t in tickers[:3]))
    sim_ib.cancelMktData(opts[0])  # a freed line can be used again
    await sim_wait(lambda: len(sim_gateway.lines) == 2)
    fifth = sim_ib.reqMktData(opts[4], "")
    await sim_wait(lambda: fifth.bid > 0)
    assert sim_errors.codes().count(101) == 1


async def test_generic_ticks_on_a_snapshot_get_error_321(sim_ib: IB, sim_errors: SimErrors) -> None:
    [opt] = await _options(sim_ib, "MSFT", 1)
    sim_ib.reqMktData(opt, "101", snapshot=True)
    await sim_wait(lambda: 321 in sim_errors.codes())


@pytest.mark.parametrize(
    "sim_config", [SimConfig.fast(clock_start=SIM_SESSION_TIME, hist_max_requests=3)]
)
async def test_historical_pacing_identical_and_too_many_requests_get_162(
    sim_ib: IB, sim_errors: SimErrors
) -> None:
    aapl = Stock("AAPL", "SMART", "USD")
    await sim_ib.qualifyContractsAsync(aapl)

    async def bars(duration: str, size: str = "30 secs") -> list:
        return await sim_ib.reqHistoricalDataAsync(
            aapl, "", duration, size, "TRADES", True, 1, timeout=5
        )

    assert len(await bars("5 D", "1 day")) == 5  # bars of 1 min and more: no pacing
    assert len(await bars("5 D", "1 day")) == 5
    assert len(await bars("600 S")) in (20, 21)  # the clock runs: a partial last bar
    assert len(await bars("600 S")) == 0  # identical within 15 s
    assert sim_errors.codes() == [162]
    assert len(await bars("300 S")) in (10, 11)
    assert len(await bars("900 S")) in (30, 31)
    assert len(await bars("1200 S")) == 0  # the 4th accepted small-bar request in the window
    assert sim_errors.codes() == [162, 162]


async def test_a_client_id_in_use_is_refused_with_326(sim_ib: IB) -> None:
    port = sim_ib.client.port
    second = IB()
    with pytest.raises((TimeoutError, asyncio.TimeoutError, ConnectionError)):
        await second.connectAsync("127.0.0.1", port, clientId=11, readonly=True, timeout=1)
    second.disconnect()
    other = await sim_connect(port, client_id=12)  # another id is fine
    assert other.isConnected()
    other.disconnect()


def test_sim_config_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        SimConfig().max_lines = 5  # type: ignore[misc]


async def _snapshot_of_an_option(config: SimConfig):  # type: ignore[no-untyped-def]
    sim = GatewaySim(config)
    ib = await sim_connect(await sim.start())
    try:
        [opt] = await _options(ib, "AAPL", 1)
        [ticker] = await asyncio.wait_for(ib.reqTickersAsync(opt), 5)
        return ticker
    finally:
        ib.disconnect()
        await sim.stop()


async def test_a_lenient_snapshot_ends_as_soon_as_its_data_is_complete() -> None:
    config = SimConfig.fast(
        clock_start=SIM_SESSION_TIME,
        snapshot_end_delay=30.0,
        lenient=Leniency(snapshot_early_end=True),
    )
    ticker = await _snapshot_of_an_option(config)  # would take 30 s without the early end
    assert ticker.modelGreeks is not None and ticker.bid > 0


async def test_a_snapshot_ends_at_the_end_of_ibs_window_even_when_complete() -> None:
    config = SimConfig.fast(clock_start=SIM_SESSION_TIME, snapshot_end_delay=1.0)
    started = time.monotonic()
    ticker = await _snapshot_of_an_option(config)
    assert time.monotonic() - started >= 1.0  # the data was complete after ~0.1 s
    assert ticker.modelGreeks is not None and ticker.bid > 0


async def test_a_snapshot_ends_at_the_end_delay_when_greeks_come_later() -> None:
    slow = DwellConfig(median=20.0, low=20.0, high=20.0)
    config = SimConfig.fast(clock_start=SIM_SESSION_TIME, dwell=slow, snapshot_end_delay=0.3)
    ticker = await _snapshot_of_an_option(config)
    assert ticker.modelGreeks is None and ticker.bid > 0
