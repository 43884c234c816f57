"""Version negotiation on the wire: the agreed version's layouts, and a refusal."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator

import pytest
from ib_async import IB, Forex, Index, Option, Stock

from collector.gateway_sim import GatewaySim
from collector.gateway_sim.protocol import decode_body, encode, read_frame
from tests.support.sim import SimErrors


class RawClient:
    """The client side of the handshake by hand, to see exactly what the gateway sends."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int, versions: str) -> RawClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        hello = versions.encode()
        writer.write(b"API\0" + struct.pack(">I", len(hello)) + hello)
        return cls(reader, writer)

    async def frame(self) -> list[str]:
        return decode_body(await asyncio.wait_for(read_frame(self.reader), 5))

    async def until(self, msg_id: str) -> list[str]:
        while True:
            fields = await self.frame()
            if fields[0] == msg_id:
                return fields

    def send(self, *fields: object) -> None:
        self.writer.write(encode([str(f) for f in fields]))

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


@pytest.fixture
async def v157(sim_gateway: GatewaySim) -> AsyncIterator[RawClient]:
    client = await RawClient.open(sim_gateway.port, "v100..157")
    try:
        version, _connection_time = await client.frame()
        assert version == "157"
        client.send(71, 2, 31, "")
        await client.until("9")
        yield client
    finally:
        await client.close()


async def test_v157_gets_the_older_layouts(v157: RawClient) -> None:
    """ibapi 9.81 (v100..157): contractDetails with version 8 and mdSizeMultiplier and no
    size fields, errors without advancedOrderRejectJson, integer sizes."""
    v157.send(9, 8, 5, 0, "AAPL", "STK", "", 0.0, "", "", "SMART", "", "USD", "", "", 0, "", "")
    row = await v157.until("10")
    assert row[1] == "8" and row[2] == "5" and row[3] == "AAPL"
    assert row[13] == "265598" and row[14] == "0.01" and row[15] == "1"  # mdSizeMultiplier
    assert row[-1] == "COMMON"  # stockType ends the row: no minSize/sizeIncrement fields
    v157.send(9, 8, 6, 0, "ZZZZ", "STK", "", 0.0, "", "", "SMART", "", "USD", "", "", 0, "", "")
    error = await v157.until("4")
    while error[3] != "200":
        error = await v157.until("4")
    assert len(error) == 5  # 4, 2, reqId, code, text
    v157.send(
        1,
        11,
        7,
        265598,
        "AAPL",
        "STK",
        "",
        0.0,
        "",
        "",
        "SMART",
        "",
        "USD",
        "",
        "",
        0,
        "",
        0,
        0,
        "",
    )
    size = await v157.until("2")
    assert "." not in size[4]  # an integer size before FRACTIONAL_SIZE_SUPPORT (163)


@pytest.mark.parametrize("versions, code", [("v100..150", 506), ("v190..200", 503)])
async def test_a_version_the_gateway_cannot_serve_is_refused_at_the_handshake(
    sim_gateway: GatewaySim, versions: str, code: int
) -> None:
    client = await RawClient.open(sim_gateway.port, versions)
    try:
        error = await client.frame()
        assert error[:4] == ["4", "2", "-1", str(code)] and len(error) == 5
        with pytest.raises(asyncio.IncompleteReadError):
            await client.frame()  # and the socket closes
    finally:
        await client.close()
    assert sim_gateway.stats.refused == 1


async def test_contract_details_carry_hours_zone_and_exchanges(sim_ib: IB) -> None:
    [aapl] = await sim_ib.reqContractDetailsAsync(Stock("AAPL", "SMART", "USD"))
    assert aapl.timeZoneId == "US/Eastern"
    assert "20261118:0400-20261118:2000" in aapl.tradingHours
    assert "20261118:0930-20261118:1600" in aapl.liquidHours
    assert "20261121:CLOSED" in aapl.liquidHours  # Saturday
    assert "NASDAQ" in aapl.validExchanges.split(",")
    [spx] = await sim_ib.reqContractDetailsAsync(Index("SPX", "CBOE", "USD"))
    assert spx.timeZoneId == "US/Central" and "20261118:0830-20261118:1500" in spx.liquidHours
    chains = await sim_ib.reqSecDefOptParamsAsync("SPX", "", "IND", 416904)
    assert {c.exchange for c in chains} == {"SMART", "CBOE"}
    spxw = next(c for c in chains if c.tradingClass == "SPXW")
    opt = Option("SPX", spxw.expirations[0], 0.0, "C", "SMART", tradingClass="SPXW")
    details = await sim_ib.reqContractDetailsAsync(opt)
    assert details and details[0].validExchanges == "SMART,CBOE"
    assert details[0].timeZoneId == "US/Central"


async def test_eurusd_answers_the_watchdog_probe(sim_ib: IB) -> None:
    [eur] = await sim_ib.reqContractDetailsAsync(Forex("EURUSD"))
    assert eur.contract is not None and eur.contract.conId == 12087792
    assert eur.contract.localSymbol == "EUR.USD" and eur.contract.exchange == "IDEALPRO"
    bars = await sim_ib.reqHistoricalDataAsync(
        Forex("EURUSD"), "", "30 S", "5 secs", "MIDPOINT", False
    )
    assert len(bars) in (6, 7) and all(1.0 < b.close < 1.2 for b in bars)


async def test_an_unservable_type_is_an_error_not_a_silence(sim_ib: IB) -> None:
    errors = SimErrors(sim_ib)
    eur = Forex("EURUSD")
    await sim_ib.qualifyContractsAsync(eur)
    sim_ib.reqMktData(eur, "")
    for _ in range(50):
        if 354 in errors.codes():
            break
        await asyncio.sleep(0.02)
    assert 354 in errors.codes()
