"""The simulated clock: frozen values outside sessions, jumps, speed, early closes."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta

import pytest
from ib_async import IB, Option, Stock

from collector.gateway_sim import GatewaySim, SimConfig
from shared.calendar import ET
from tests.support.sim import SimErrors, sim_wait

SATURDAY_NOON = datetime(2026, 11, 21, 12, 0, tzinfo=ET)
HALF_DAY_AFTER_CLOSE = datetime(2026, 11, 27, 13, 30, tzinfo=ET)  # closed at 13:00


@pytest.mark.parametrize("sim_config", [SimConfig.fast(clock_start=SATURDAY_NOON)])
async def test_outside_the_session_values_are_frozen_at_the_last_close(
    sim_ib: IB, sim_gateway: GatewaySim
) -> None:
    aapl = Stock("AAPL", "SMART", "USD")
    await sim_ib.qualifyContractsAsync(aapl)
    live = sim_ib.reqMktData(aapl, "")  # type 1 while closed: no bid/ask, as IB documents
    await sim_wait(lambda: live.last > 0 and live.bid == -1)
    assert live.marketDataType == 1 and live.ask == -1 and live.bidSize == 0
    sim_ib.cancelMktData(aapl)
    sim_ib.reqMarketDataType(2)
    ticker = sim_ib.reqMktData(aapl, "")
    await sim_wait(lambda: ticker.last > 0 and ticker.marketDataType == 2 and ticker.bid > 0)
    profile = sim_gateway.book.profile("AAPL")
    assert profile is not None
    friday_close = sim_gateway.model.close(profile, date(2026, 11, 20))
    assert ticker.last == friday_close
    assert ticker.close == sim_gateway.model.close(profile, date(2026, 11, 19))
    bid = ticker.bid
    await asyncio.sleep(0.3)  # several tick intervals: nothing moves while closed
    assert ticker.bid == bid and ticker.last == friday_close


@pytest.mark.parametrize("sim_config", [SimConfig.fast(clock_start=SATURDAY_NOON)])
async def test_clock_set_moves_the_market_into_a_session(
    sim_ib: IB, sim_gateway: GatewaySim
) -> None:
    chains = await sim_ib.reqSecDefOptParamsAsync("AAPL", "", "STK", 265598)
    first = chains[0].expirations[0]
    assert first >= "20261123"  # Friday's expiry is gone after it expired
    aapl = Stock("AAPL", "SMART", "USD")
    await sim_ib.qualifyContractsAsync(aapl)
    sim_ib.reqMarketDataType(2)
    ticker = sim_ib.reqMktData(aapl, "")
    await sim_wait(lambda: ticker.marketDataType == 2 and ticker.last > 0)
    frozen = ticker.last
    sim_gateway.clock.set(datetime(2026, 11, 24, 14, 0, tzinfo=ET))
    await sim_wait(lambda: ticker.marketDataType == 1)
    await sim_wait(lambda: ticker.last != frozen)
    profile = sim_gateway.book.profile("AAPL")
    assert profile is not None
    assert ticker.close == sim_gateway.model.close(profile, date(2026, 11, 23))


@pytest.mark.parametrize("sim_config", [SimConfig.fast(clock_start=HALF_DAY_AFTER_CLOSE)])
async def test_early_close_freezes_the_market_at_13_00(sim_ib: IB, sim_gateway: GatewaySim) -> None:
    spy = Stock("SPY", "SMART", "USD")
    await sim_ib.qualifyContractsAsync(spy)
    sim_ib.reqMarketDataType(2)
    [ticker] = await sim_ib.reqTickersAsync(spy)
    assert ticker.marketDataType == 2
    profile = sim_gateway.book.profile("SPY")
    assert profile is not None
    assert ticker.last == sim_gateway.model.close(profile, date(2026, 11, 27))


async def test_speed_runs_the_session_faster() -> None:
    start = datetime(2026, 11, 18, 9, 30, tzinfo=ET)
    sim = GatewaySim(SimConfig.fast(clock_start=start, speed=3600.0))
    await asyncio.sleep(0.05)
    assert sim.clock.now() - start >= timedelta(minutes=3)  # 0.05 s real = 3 min simulated
    assert sim.clock.now().tzinfo is not None


@pytest.mark.parametrize("sim_config", [SimConfig.fast(clock_start=SATURDAY_NOON)])
async def test_an_expired_option_conid_is_unknown(
    sim_ib: IB, sim_gateway: GatewaySim, sim_errors: SimErrors
) -> None:
    sim_gateway.clock.set(datetime(2026, 11, 20, 10, 0, tzinfo=ET))
    opt = Option("AAPL", "20261120", 0.0, "C", "SMART")
    details = await sim_ib.reqContractDetailsAsync(opt)
    assert details, "Friday's monthly is listed on Friday"
    expiring = details[0].contract
    assert expiring is not None
    sim_gateway.clock.set(SATURDAY_NOON)
    assert await sim_ib.reqContractDetailsAsync(Option(conId=expiring.conId)) == []
    assert 200 in sim_errors.codes()


@pytest.mark.parametrize("sim_config", [SimConfig.fast(clock_start=SATURDAY_NOON)])
async def test_open_interest_is_published_overnight(sim_ib: IB, sim_gateway: GatewaySim) -> None:
    sim_gateway.clock.set(datetime(2026, 11, 18, 11, 0, tzinfo=ET))
    details = await sim_ib.reqContractDetailsAsync(Option("AAPL", "20261218", 0.0, "C", "SMART"))
    opt = details[len(details) // 2].contract
    assert opt is not None

    async def oi_at(when: datetime) -> float:
        sim_gateway.clock.set(when)
        ticker = sim_ib.reqMktData(opt, "101")
        ticker.callOpenInterest = float("nan")  # forget the previous subscription's value
        await sim_wait(lambda: ticker.callOpenInterest > 0)
        sim_ib.cancelMktData(opt)
        return ticker.callOpenInterest

    during = await oi_at(datetime(2026, 11, 18, 11, 0, tzinfo=ET))
    evening = await oi_at(datetime(2026, 11, 18, 17, 30, tzinfo=ET))
    next_morning = await oi_at(datetime(2026, 11, 19, 4, 30, tzinfo=ET))
    next_session = await oi_at(datetime(2026, 11, 19, 10, 0, tzinfo=ET))
    assert during == evening  # unchanged until the overnight update
    assert next_morning != evening and next_morning == next_session
