"""SimThread with the blocking ib_async API, and the same simulator seen by ib_insync."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime

import pytest

from collector.gateway_sim import SimConfig, SimThread
from shared.calendar import ET

SESSION = datetime(2026, 11, 18, 11, 0, tzinfo=ET)


@pytest.fixture
def sim_client_loop() -> Iterator[asyncio.AbstractEventLoop]:
    """The loop the blocking client API runs on, closed after the test (no leaks)."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        yield loop
    finally:
        loop.run_until_complete(asyncio.sleep(0.05))  # let closed transports finish
        loop.close()
        asyncio.set_event_loop(None)


def _pick_option(chains, symbol: str, details_fn, option_cls):  # type: ignore[no-untyped-def]
    smart = next(c for c in chains if c.exchange == "SMART")
    expiry = smart.expirations[1]
    details = details_fn(option_cls(symbol, expiry, 0.0, "C", "SMART"))
    contracts = sorted((d.contract for d in details), key=lambda c: c.strike)
    return contracts[len(contracts) // 2]


def test_sim_thread_serves_the_blocking_ib_async_api(sim_client_loop: object) -> None:
    from ib_async import IB, Option, Stock

    with SimThread(SimConfig.fast(clock_start=SESSION)) as sim:
        ib = IB()
        ib.connect("127.0.0.1", sim.port, clientId=21, readonly=True, timeout=5)
        try:
            aapl = Stock("AAPL", "SMART", "USD")
            assert ib.qualifyContracts(aapl) == [aapl] and aapl.conId == 265598
            chains = ib.reqSecDefOptParams("AAPL", "", "STK", aapl.conId)
            opt = _pick_option(chains, "AAPL", ib.reqContractDetails, Option)
            [ticker] = ib.reqTickers(opt)
            assert ticker.bid > 0 and ticker.modelGreeks is not None
            assert sim.stats.messages_received > 5
            assert sim.call(len, sim.sim.lines) == 0  # the snapshot freed its line
        finally:
            ib.disconnect()


def test_ib_insync_is_served_too(sim_client_loop: object) -> None:
    from ib_insync import IB, Option, Stock

    with SimThread(SimConfig.fast(clock_start=SESSION)) as sim:
        ib = IB()
        ib.connect("127.0.0.1", sim.port, clientId=22, readonly=True, timeout=5)
        try:
            assert ib.client.serverVersion() == 176
            spy = Stock("SPY", "SMART", "USD")
            assert ib.qualifyContracts(spy) == [spy] and spy.conId == 756733
            assert ib.qualifyContracts(Stock("ZZNOPE", "SMART", "USD")) == []
            chains = ib.reqSecDefOptParams("SPY", "", "STK", spy.conId)
            opt = _pick_option(chains, "SPY", ib.reqContractDetails, Option)
            ticker = ib.reqMktData(opt, "100,101,233")
            for _ in range(200):
                ib.sleep(0.02)
                if ticker.modelGreeks is not None and ticker.callOpenInterest > 0:
                    break
            assert ticker.bid > 0 and ticker.ask > ticker.bid
            assert ticker.modelGreeks is not None and 0 < ticker.modelGreeks.delta < 1
            assert ticker.callOpenInterest > 0 and ticker.callVolume > 0
            assert ticker.rtVolume == ticker.volume and ticker.vwap > 0  # RTVolume (48)
            bars = ib.reqHistoricalData(spy, "", "3 D", "1 day", "TRADES", True, 1)
            assert len(bars) == 3
        finally:
            ib.disconnect()


async def test_stopping_with_a_client_streaming_closes_cleanly() -> None:
    from ib_async import Stock

    from tests.support.sim import sim_connect, sim_wait

    sim = SimThread(SimConfig.fast(clock_start=SESSION))
    port = sim.start()
    ib = await sim_connect(port, client_id=23)
    aapl = Stock("AAPL", "SMART", "USD")
    await ib.qualifyContractsAsync(aapl)
    ticker = ib.reqMktData(aapl, "")
    await sim_wait(lambda: ticker.bid > 0)
    await asyncio.to_thread(sim.stop)
    await sim_wait(lambda: not ib.isConnected())
    assert sim.stats.connections == 1 and sim.stats.disconnects == 0
    sim.stop()  # stopping twice is harmless
