"""The real ib_async client against the simulator: connect, qualify, chains, quotes."""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, date

from ib_async import IB, Index, Option, Stock

from collector.gateway_sim import GatewaySim
from tests.support.sim import SimErrors, sim_connect, sim_wait


async def test_connect_readonly_answers_the_startup_requests(sim_gateway: GatewaySim) -> None:
    ib = await sim_connect(sim_gateway.port)
    try:
        assert ib.isConnected()
        assert ib.client.serverVersion() == 176
        assert ib.wrapper.accounts == ["DU1234567"]
        assert sim_gateway.stats.errors_sent[2104] == 1
    finally:
        ib.disconnect()


async def test_a_full_client_connect_gets_every_startup_answer(sim_gateway: GatewaySim) -> None:
    ib = IB()  # not read-only, client id 0: also open orders, completed orders, auto-open
    await ib.connectAsync(
        "127.0.0.1", sim_gateway.port, clientId=0, readonly=False, timeout=2, raiseSyncErrors=True
    )
    try:
        assert ib.isConnected() and ib.openTrades() == []
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
    ticker = sim_ib.reqMktData(opt, "100,101,106,233")
    await sim_wait(lambda: ticker.modelGreeks is not None and ticker.putOpenInterest > 0)
    assert 0 < ticker.bid < ticker.ask
    assert ticker.bidSize > 0 and ticker.askSize > 0
    greeks = ticker.modelGreeks
    assert -1 < greeks.delta < 0 and greeks.gamma > 0 and greeks.vega > 0 and greeks.theta < 0
    assert 0.05 < greeks.impliedVol < 1.0
    assert greeks.undPrice == spot.last
    assert ticker.bid <= greeks.optPrice <= ticker.ask
    assert ticker.volume > 0 and ticker.putVolume == ticker.volume
    assert ticker.marketDataType == 1
    assert ticker.minTick == 0.01  # tickReqParams
    assert ticker.lastTimestamp is not None  # tickString 45
    # 106 is the underlying's 30-day implied volatility (tick 24): nothing on an option
    assert math.isnan(ticker.impliedVolatility)
    assert ticker.high >= ticker.last >= ticker.low > 0  # an option that traded has a range
    assert ticker.lastGreeks is not None  # tick 12: greeks at the last trade
    assert ticker.close > 0
    assert ticker.rtVolume == ticker.volume  # RTVolume (generic 233 -> tick 48)
    await sim_wait(lambda: ticker.bidGreeks is not None and ticker.askGreeks is not None)
    bid_g, ask_g = ticker.bidGreeks, ticker.askGreeks
    assert bid_g.optPrice == ticker.bid and ask_g.optPrice == ticker.ask
    assert bid_g.impliedVol < greeks.impliedVol < ask_g.impliedVol
    sim_ib.cancelMktData(opt)


async def _chain_strikes(ib: IB, symbol: str, expiry: str) -> list[float]:
    details = await ib.reqContractDetailsAsync(Option(symbol, expiry, 0.0, "C", "SMART"))
    return sorted(d.contract.strike for d in details)


async def test_secdef_union_has_pairs_that_do_not_exist_and_they_get_200(
    sim_ib: IB, sim_errors: SimErrors
) -> None:
    chains = await sim_ib.reqSecDefOptParamsAsync("AAPL", "", "STK", 265598)
    assert {c.exchange for c in chains} >= {"SMART", "CBOE"}
    smart = next(c for c in chains if c.exchange == "SMART")
    assert smart.underlyingConId == "265598" and smart.multiplier == "100"
    near, far = smart.expirations[0], smart.expirations[-1]
    near_strikes, far_strikes = (
        await _chain_strikes(sim_ib, "AAPL", near),
        await _chain_strikes(sim_ib, "AAPL", far),
    )
    assert set(near_strikes) != set(far_strikes)  # grids differ by expiry
    assert set(near_strikes) | set(far_strikes) <= set(smart.strikes)
    missing = next(k for k in smart.strikes if k not in set(far_strikes))
    opt = Option("AAPL", far, missing, "C", "SMART")
    result = await asyncio.wait_for(sim_ib.qualifyContractsAsync(opt), 5)
    assert result == [None] and opt.conId == 0
    assert 200 in sim_errors.codes()


async def test_spx_has_monthly_and_spxw_classes(sim_ib: IB) -> None:
    chains = await sim_ib.reqSecDefOptParamsAsync("SPX", "", "IND", 416904)
    classes = {c.tradingClass: c for c in chains if c.exchange == "SMART"}
    assert set(classes) == {"SPX", "SPXW"}
    assert len(classes["SPXW"].expirations) > len(classes["SPX"].expirations)
    spxw = classes["SPXW"].expirations[0]
    strikes = await _chain_strikes_class(sim_ib, "SPX", spxw, "SPXW")
    opt = Option("SPX", spxw, strikes[len(strikes) // 2], "P", "SMART", tradingClass="SPXW")
    [qualified] = await sim_ib.qualifyContractsAsync(opt)
    assert qualified is not None and qualified.localSymbol.startswith("SPXW  ")


async def _chain_strikes_class(ib: IB, symbol: str, expiry: str, tc: str) -> list[float]:
    details = await ib.reqContractDetailsAsync(
        Option(symbol, expiry, 0.0, "C", "SMART", tradingClass=tc)
    )
    return sorted(d.contract.strike for d in details)


async def test_unknown_symbols_and_symbols_without_options(
    sim_ib: IB, sim_errors: SimErrors
) -> None:
    assert await sim_ib.qualifyContractsAsync(Stock("ZZTOP", "SMART", "USD")) == [None]
    assert await sim_ib.qualifyContractsAsync(Index("AAPL", "CBOE")) == [None]
    noopt = Stock("NOOPT", "SMART", "USD")
    [qualified] = await sim_ib.qualifyContractsAsync(noopt)
    assert qualified is not None and qualified.conId > 0
    assert await sim_ib.reqSecDefOptParamsAsync("NOOPT", "", "STK", noopt.conId) == []
    other = Stock("FOO", "SMART", "USD")  # any other symbol gets generated parameters
    [foo] = await sim_ib.qualifyContractsAsync(other)
    assert (
        foo is not None
        and len(await sim_ib.reqSecDefOptParamsAsync("FOO", "", "STK", foo.conId)) > 0
    )
    assert sim_errors.codes().count(200) == 2


async def test_snapshot_ends_with_tick_snapshot_end_after_its_data(sim_ib: IB) -> None:
    chains = await sim_ib.reqSecDefOptParamsAsync("MSFT", "", "STK", 272093)
    expiry = chains[0].expirations[2]
    strikes = await _chain_strikes(sim_ib, "MSFT", expiry)
    opt = Option("MSFT", expiry, strikes[len(strikes) // 2], "C", "SMART")
    await sim_ib.qualifyContractsAsync(opt)
    [ticker] = await asyncio.wait_for(sim_ib.reqTickersAsync(opt), 5)  # returns on 57
    assert ticker.bid > 0 and ticker.ask > ticker.bid
    assert ticker.modelGreeks is not None and ticker.modelGreeks.delta > 0
    assert ticker.close > 0


async def test_historical_bars_format_date_1_and_2(sim_ib: IB, sim_gateway: GatewaySim) -> None:
    aapl = Stock("AAPL", "SMART", "USD")
    await sim_ib.qualifyContractsAsync(aapl)
    hourly = await sim_ib.reqHistoricalDataAsync(aapl, "", "2 D", "1 hour", "TRADES", True, 1)
    # on clock hours, as IB sends them: 09:30 (a half hour), 10:00 ... 15:00; today up
    # to 11:00 ET (plus the 11:00 bar once the running clock passes it)
    assert len(hourly) in (7 + 2, 7 + 3)
    assert hourly[0].date.tzinfo is not None and (hourly[0].date.hour, hourly[0].date.minute) == (
        9,
        30,
    )
    assert [(b.date.hour, b.date.minute) for b in hourly[1:7]] == [(h, 0) for h in range(10, 16)]
    assert all(b.low <= min(b.open, b.close) and b.high >= max(b.open, b.close) for b in hourly)
    epoch = await sim_ib.reqHistoricalDataAsync(aapl, "", "2 D", "1 hour", "MIDPOINT", True, 2)
    assert [b.date for b in epoch] == [b.date.astimezone(UTC) for b in hourly]
    daily = await sim_ib.reqHistoricalDataAsync(
        aapl, "20261117 16:00:00 US/Eastern", "5 D", "1 day", "TRADES", True, 1
    )
    assert [b.date for b in daily] == [date(2026, 11, d) for d in (11, 12, 13, 16, 17)]
    profile = sim_gateway.book.profile("AAPL")
    assert profile is not None
    assert daily[-1].close == sim_gateway.model.close(profile, date(2026, 11, 17))


async def test_current_time_and_unknown_messages_are_tolerated(
    sim_ib: IB, sim_gateway: GatewaySim
) -> None:
    sim_ib.client.send(999, 1, "whatever")  # an id the gateway does not know
    sim_ib.client.send(64, 1)  # cancelPositions: read and ignored
    now = await asyncio.wait_for(sim_ib.reqCurrentTimeAsync(), 5)
    assert abs((now - sim_gateway.clock.now()).total_seconds()) < 60
    assert sim_ib.isConnected()
