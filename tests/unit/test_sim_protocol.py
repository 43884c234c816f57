"""TWS framing and the server message shapes the client libraries require."""

from __future__ import annotations

import asyncio
import struct
from datetime import datetime

import pytest

from collector.gateway_sim import messages as msg
from collector.gateway_sim.contracts import Instrument
from collector.gateway_sim.protocol import (
    ProtocolError,
    decode_body,
    encode,
    format_field,
    read_frame,
    read_hello,
)
from collector.gateway_sim.versions import choose_version
from shared.calendar import ET


def _reader(data: bytes) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    return reader


def test_encode_is_length_prefixed_and_nul_terminated() -> None:
    frame = encode([1, 6, 7, 1, 185.0, "12", 0])
    (size,) = struct.unpack(">I", frame[:4])
    assert size == len(frame) - 4
    assert frame[4:] == b"1\x006\x007\x001\x00185.0\x0012\x000\x00"
    assert decode_body(frame[4:]) == ["1", "6", "7", "1", "185.0", "12", "0"]


@pytest.mark.parametrize(
    "value, text",
    [(None, ""), (True, "1"), (False, "0"), (42, "42"), (0.01, "0.01"), (float("nan"), "")],
)
def test_format_field(value: object, text: str) -> None:
    assert format_field(value) == text  # type: ignore[arg-type]


async def test_read_hello_parses_the_version_range_and_options() -> None:
    hello = b"API\0" + struct.pack(">I", 18) + b"v157..178 +PACEAPI"
    assert await read_hello(_reader(hello)) == (157, 178, "+PACEAPI")


async def test_read_hello_rejects_a_missing_prefix() -> None:
    with pytest.raises(ProtocolError):
        await read_hello(_reader(b"GET / HTTP/1.1\r\n"))


async def test_read_frame_needs_the_whole_body() -> None:
    with pytest.raises(asyncio.IncompleteReadError):
        await read_frame(_reader(struct.pack(">I", 10) + b"abc"))


def test_version_choice() -> None:
    assert choose_version(157, 178) == 176
    assert choose_version(157, 176) == 176
    assert choose_version(157, 170) == 170
    assert choose_version(177, 178) is None
    assert choose_version(100, 150) is None


def test_fixed_shape_messages_have_the_exact_field_counts() -> None:
    assert len(msg.handshake(176, datetime(2026, 1, 5, 10, 0, tzinfo=ET))) == 2
    assert len(msg.managed_accounts("DU1")) == 3 and len(msg.next_valid_id(5)) == 3
    assert msg.error(7, 200)[-1] == "" and len(msg.error(7, 200)) == 6  # advancedOrderRejectJson
    assert len(msg.tick_price(1, 1, 2.5, 3)) == 7
    comp = msg.tick_option_computation(1, 13, 0.2, 0.5, 2.0, 0.1, 0.03, 0.2, -0.1, 100.0)
    assert len(comp) == 12 and comp[0] == 21
    sentinel = msg.greeks_not_computed(1, 13)
    assert sentinel[4:] == [-1.0, -2.0, -1.0, -1.0, -2.0, -2.0, -2.0, -1.0]
    assert msg.completed_orders_end() == [102]
    assert msg.secdef_option_params_end(9) == [76, 9]


def test_secdef_row_ends_with_the_last_strike() -> None:
    row = msg.secdef_option_params(3, "SMART", 265598, "AAPL", ["20261120"], [100.0, 105.0])
    assert row[-1] == 105.0 and row[6] == 1 and row[8] == 2


def test_delayed_ids_are_a_lookup_not_an_offset() -> None:
    assert [msg.tick_id(t, True) for t in (0, 1, 2, 3, 4, 5, 8, 9, 13)] == [
        69,
        66,
        67,
        70,
        68,
        71,
        74,
        75,
        83,
    ]
    assert msg.tick_id(27, True) == 27 and msg.tick_id(1, False) == 1


def test_contract_details_integer_fields_are_integers() -> None:
    inst = Instrument(
        500,
        "AAPL",
        "OPT",
        "SMART",
        "",
        "AAPL  261120C00200000",
        "AAPL",
        "APPLE INC",
        "20261120",
        200.0,
        "C",
        265598,
        "STK",
    )
    fields = msg.contract_details(4, inst)
    assert fields[12] == 500 and fields[17] == 1 and fields[18] == 265598
    assert fields[29] == "" and fields[30] == 0  # evMultiplier empty, no secIds
    assert decode_body(encode(fields)[4:])[14] == "100"
