"""Each injectable fault, switched on from a test and observed through ib_async."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from ib_async import IB, Option, Stock

from collector.gateway_sim import FaultConfig, GatewaySim, SimConfig
from shared.calendar import ET
from tests.support.sim import SIM_SESSION_TIME, SimErrors, sim_connect, sim_wait


def with_faults(**faults: object) -> SimConfig:
    return SimConfig.fast(clock_start=SIM_SESSION_TIME, faults=FaultConfig(**faults))  # type: ignore[arg-type]


async def _option(ib: IB, symbol: str, right: str = "C", index: int = 0) -> Option:
    chains = await ib.reqSecDefOptParamsAsync(symbol, "", "STK", 0)
    expiry = chains[0].expirations[1]
    details = await ib.reqContractDetailsAsync(Option(symbol, expiry, 0.0, right, "SMART"))
    contracts = sorted((d.contract for d in details), key=lambda c: c.strike)  # type: ignore[union-attr]
    return contracts[len(contracts) // 2 + index]  # type: ignore[return-value]


@pytest.mark.parametrize("sim_config", [with_faults(disconnect_after_messages=12)])
async def test_disconnect_after_n_messages_then_reconnect(sim_gateway: GatewaySim) -> None:
    ib = await sim_connect(sim_gateway.port)
    gone = asyncio.Event()
    ib.disconnectedEvent += gone.set
    with pytest.raises(ConnectionError):
        for _ in range(20):
            await asyncio.wait_for(ib.reqCurrentTimeAsync(), 5)
    await asyncio.wait_for(gone.wait(), 5)
    assert not ib.isConnected() and sim_gateway.stats.disconnects == 1
    await ib.connectAsync("127.0.0.1", sim_gateway.port, clientId=11, readonly=True, timeout=5)
    aapl = Stock("AAPL", "SMART", "USD")
    assert await ib.qualifyContractsAsync(aapl) == [aapl]  # a new session works
    ticker = ib.reqMktData(aapl, "")
    await sim_wait(lambda: ticker.bid > 0)
    ib.disconnect()


@pytest.mark.parametrize(
    "sim_config", [with_faults(disconnect_at=SIM_SESSION_TIME + timedelta(seconds=0.3))]
)
async def test_disconnect_at_a_clock_time(sim_ib: IB, sim_gateway: GatewaySim) -> None:
    await sim_wait(lambda: not sim_ib.isConnected())
    assert sim_gateway.faults.disconnect_at_fired and sim_gateway.stats.disconnects == 1


@pytest.mark.parametrize("sim_config", [with_faults(pacing_error_rate=1.0)])
async def test_pacing_errors_at_a_rate(sim_ib: IB, sim_errors: SimErrors) -> None:
    aapl = Stock("AAPL", "SMART", "USD")
    await sim_ib.qualifyContractsAsync(aapl)
    bars = await sim_ib.reqHistoricalDataAsync(aapl, "", "2 D", "1 day", "TRADES", True, 1)
    assert len(bars) == 0
    sim_ib.reqMktData(aapl, "")
    await sim_wait(lambda: sim_errors.codes() == [162, 420])


@pytest.mark.parametrize("sim_config", [with_faults(pacing_error_rate=0.5)])
async def test_pacing_error_rate_hits_a_share_of_requests(sim_gateway: GatewaySim) -> None:
    hits = sum(sim_gateway.faults.pacing_error() for _ in range(400))
    assert 140 < hits < 260


@pytest.mark.parametrize("sim_config", [with_faults(no_permission_symbols=("MSFT",))])
async def test_no_permission_gives_354_live_and_delayed_ticks_for_type_3(
    sim_ib: IB, sim_errors: SimErrors
) -> None:
    msft = Stock("MSFT", "SMART", "USD")
    await sim_ib.qualifyContractsAsync(msft)
    live = sim_ib.reqMktData(msft, "")
    await sim_wait(lambda: 354 in sim_errors.codes())
    sim_ib.cancelMktData(msft)
    assert live.bid != live.bid or live.bid <= 0  # nothing arrived (NaN or -1)
    sim_ib.reqMarketDataType(3)
    opt = await _option(sim_ib, "MSFT")
    delayed = sim_ib.reqMktData(opt, "")
    tick_types: set[int] = set()
    delayed.updateEvent += lambda t: tick_types.update(tick.tickType for tick in t.ticks)
    await sim_wait(lambda: delayed.modelGreeks is not None and delayed.bid > 0)
    assert 10167 in sim_errors.codes()
    assert delayed.marketDataType == 3
    assert {66, 67} <= tick_types and not tick_types & {1, 2}
    aapl = Stock("AAPL", "SMART", "USD")  # a permitted symbol stays live
    await sim_ib.qualifyContractsAsync(aapl)
    ok = sim_ib.reqMktData(aapl, "")
    await sim_wait(lambda: ok.bid > 0)
    assert ok.marketDataType == 1


@pytest.mark.parametrize("sim_config", [with_faults(missing_greeks_fraction=1.0)])
async def test_missing_greeks_arrive_as_sentinels(sim_ib: IB) -> None:
    opt = await _option(sim_ib, "AAPL", "P")
    ticker = sim_ib.reqMktData(opt, "")
    await sim_wait(lambda: ticker.modelGreeks is not None)
    g = ticker.modelGreeks
    assert g.impliedVol is None and g.delta is None and g.optPrice is None
    assert g.vega == -2.0 and g.theta == -2.0  # the libraries keep these sentinels
    assert ticker.bid > 0  # the quote itself is fine


@pytest.mark.parametrize("sim_config", [with_faults(missing_greeks_fraction=1.0)])
async def test_snapshot_without_greeks_still_ends(sim_ib: IB) -> None:
    opt = await _option(sim_ib, "AAPL")
    [ticker] = await asyncio.wait_for(sim_ib.reqTickersAsync(opt), 5)
    assert ticker.bid > 0 and ticker.modelGreeks is not None
    assert ticker.modelGreeks.delta is None


async def test_missing_greeks_fraction_picks_a_stable_share_of_contracts() -> None:
    sim = GatewaySim(with_faults(missing_greeks_fraction=0.25))
    picked = [sim.faults.missing_greeks(cid) for cid in range(1000, 3000)]
    assert 400 < sum(picked) < 600
    assert picked == [sim.faults.missing_greeks(cid) for cid in range(1000, 3000)]


async def test_slow_ticks_delay_greeks() -> None:
    slow = GatewaySim(with_faults(slow_ticks_factor=1000.0))
    fast = GatewaySim(with_faults())
    ports = [await slow.start(), await fast.start()]
    clients = [await sim_connect(port) for port in ports]
    try:
        tickers = []
        for ib in clients:
            opt = await _option(ib, "NVDA")
            tickers.append(ib.reqMktData(opt, ""))
        slow_ticker, fast_ticker = tickers
        await sim_wait(lambda: fast_ticker.modelGreeks is not None)
        await asyncio.sleep(0.2)
        assert slow_ticker.modelGreeks is None  # its dwell is now 10-80 s
    finally:
        for ib in clients:
            ib.disconnect()
        await slow.stop()
        await fast.stop()


@pytest.mark.parametrize("sim_config", [with_faults(competing_session_symbols=("TSLA",))])
async def test_competing_session_gives_10197(sim_ib: IB, sim_errors: SimErrors) -> None:
    tsla = Stock("TSLA", "SMART", "USD")
    await sim_ib.qualifyContractsAsync(tsla)
    sim_ib.reqMktData(tsla, "")
    await sim_wait(lambda: 10197 in sim_errors.codes())


@pytest.mark.parametrize(
    "sim_config", [with_faults(connectivity_events=((0.1, 1100), (0.3, 1102)))]
)
async def test_connectivity_lost_and_restored(
    sim_ib: IB, sim_errors: SimErrors, sim_gateway: GatewaySim
) -> None:
    await sim_wait(lambda: sim_errors.codes()[-2:] == [1100, 1102])
    assert sim_ib.isConnected()
    # after 1102 the library sends reqAccountSummary on its own; the gateway answers it
    await asyncio.wait_for(sim_ib.reqCurrentTimeAsync(), 5)
    assert sim_ib.isConnected()


@pytest.mark.parametrize("sim_config", [with_faults(connectivity_events=((0.2, 1101),))])
async def test_connectivity_restored_with_data_lost_drops_subscriptions(
    sim_ib: IB, sim_errors: SimErrors, sim_gateway: GatewaySim
) -> None:
    aapl = Stock("AAPL", "SMART", "USD")
    await sim_ib.qualifyContractsAsync(aapl)
    sim_ib.reqMktData(aapl, "")
    await sim_wait(lambda: len(sim_gateway.lines) == 1)
    await sim_wait(lambda: 1101 in sim_errors.codes())
    assert len(sim_gateway.lines) == 0


@pytest.mark.parametrize(
    "sim_config",
    [
        SimConfig.fast(
            clock_start=datetime(2026, 11, 21, 12, 0, tzinfo=ET),
            faults=FaultConfig(no_permission_symbols=("MSFT",)),
        )
    ],
)
async def test_delayed_frozen_type_4_outside_the_session(sim_ib: IB, sim_errors: SimErrors) -> None:
    sim_ib.reqMarketDataType(4)
    msft, aapl = Stock("MSFT", "SMART", "USD"), Stock("AAPL", "SMART", "USD")
    await sim_ib.qualifyContractsAsync(msft, aapl)
    delayed, live = sim_ib.reqMktData(msft, ""), sim_ib.reqMktData(aapl, "")
    await sim_wait(lambda: delayed.last > 0 and live.last > 0)
    assert delayed.marketDataType == 4  # no permission: delayed, and frozen (market closed)
    assert live.marketDataType == 2  # permitted: frozen
    assert 10167 in sim_errors.codes()
