"""The simulator on the raw wire: exact handshake bytes and survival of malformed frames."""

from __future__ import annotations

import asyncio
import struct

from collector.gateway_sim import GatewaySim
from collector.gateway_sim.protocol import decode_body, encode


async def _frame(reader: asyncio.StreamReader) -> list[str]:
    (size,) = struct.unpack(">I", await asyncio.wait_for(reader.readexactly(4), 5))
    return decode_body(await asyncio.wait_for(reader.readexactly(size), 5))


async def _until(reader: asyncio.StreamReader, msg_id: str) -> list[str]:
    for _ in range(50):
        fields = await _frame(reader)
        if fields[0] == msg_id:
            return fields
    raise AssertionError(f"no message {msg_id}")


async def test_handshake_and_malformed_frames(sim_gateway: GatewaySim) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", sim_gateway.port)
    try:
        hello = b"v157..176"
        writer.write(b"API\0" + struct.pack(">I", len(hello)) + hello)
        version, when = await _frame(reader)  # exactly two fields
        assert version == "176" and len(when.split()) == 3
        writer.write(encode([71, 2, 5, ""]))
        assert await _until(reader, "15") == ["15", "1", "DU1234567"]
        next_id = await _until(reader, "9")
        assert len(next_id) == 3 and int(next_id[2]) > 0
        writer.write(encode([1, 11, 77]))  # a truncated reqMktData
        writer.write(b"\0\0\0\0")  # an empty frame
        writer.write(encode(["not-a-number", "x"]))
        writer.write(encode([9, 8, 78, 0, "AAPL"]))  # short reqContractDetails
        writer.write(encode([49, 1]))
        current = await _until(reader, "49")
        assert current[1] == "1" and current[2].isdigit()
        assert sim_gateway.stats.errors_sent[321] + sim_gateway.stats.errors_sent[200] >= 1
    finally:
        writer.close()
        await writer.wait_closed()
