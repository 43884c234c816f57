"""The real ib_async client against the simulator: connect, qualify, chains, quotes."""

from __future__ import annotations

import asyncio

from ib_async import IB, Index, Option, Stock

from collector.gateway_sim import GatewaySim
from tests.integration.conftest import sim_connect


async def wait_for(predicate, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    """Poll until predicate() is true; fail the test (not hang) after `timeout`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_connect_readonly_answers_the_startup_requests(sim_gateway: GatewaySim) -> None:
    ib = await sim_connect(sim_gateway.port)
    try:
        assert ib.isConnected()
        assert ib.client.serverVersion() == 176
        assert ib.wrapper.accounts == ["DU1234567"]
        assert sim_gateway.stats.errors_sent[2104] == 1
    finally:
        ib.disconnect()


async def test_qualify_stock_index_and_option(sim_ib: IB) -> None:
    aapl, spx = Stock("AAPL", "SMART", "USD"), Index("SPX", "CBOE")
    assert await sim_ib.qualifyContractsAsync(aapl, spx) == [aapl, spx]
    assert (aapl.conId, aapl.primaryExchange) == (265598, "NASDAQ")
    assert spx.conId == 416904
    [chain] = [
        c
        for c in await sim_ib.reqSecDefOptParamsAsync("AAPL", "", "STK", 265598)
        if c.exchange == "SMART"
    ]
    expiry = chain.expirations[1]
    opt = Option("AAPL", expiry, 0.0, "CALL", "SMART")  # partial: enumerate the expiry
    details = await sim_ib.reqContractDetailsAsync(opt)
    strikes = sorted(d.contract.strike for d in details)
    middle = strikes[len(strikes) // 2]
    one = Option("AAPL", expiry, middle, "C", "SMART")  # no currency, as clients send it
    [qualified] = await sim_ib.qualifyContractsAsync(one)
    assert qualified.conId > 0 and qualified.multiplier == "100"
    assert qualified.localSymbol.startswith("AAPL  ")


async def test_streaming_option_gets_quotes_greeks_volume_and_oi(sim_ib: IB) -> None:
    chains = await sim_ib.reqSecDefOptParamsAsync("SPY", "", "STK", 756733)
    expiry = chains[0].expirations[3]
    und = Stock("SPY", "SMART", "USD")
    await sim_ib.qualifyContractsAsync(und)
    [spot] = await sim_ib.reqTickersAsync(und)
    strike = float(round(spot.last))
    opt = Option("SPY", expiry, strike, "P", "SMART")
    await sim_ib.qualifyContractsAsync(opt)
    ticker = sim_ib.reqMktData(opt, "100,101,106")
    await wait_for(lambda: ticker.modelGreeks is not None and ticker.putOpenInterest > 0)
    assert 0 < ticker.bid < ticker.ask
    assert ticker.bidSize > 0 and ticker.askSize > 0
    greeks = ticker.modelGreeks
    assert -1 < greeks.delta < 0 and greeks.gamma > 0 and greeks.vega > 0 and greeks.theta < 0
    assert 0.05 < greeks.impliedVol < 1.0
    assert greeks.undPrice == spot.last
    assert ticker.bid <= greeks.optPrice <= ticker.ask
    assert ticker.volume > 0 and ticker.putVolume == ticker.volume
    assert ticker.marketDataType == 1
    sim_ib.cancelMktData(opt)
