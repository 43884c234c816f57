"""TWS socket framing: the client hello, length-prefixed NUL-separated frames, field text.

Written from the wire facts in tws-wire-subset.md; the simulator is a server, so it does
not borrow the client library's codec.
"""

from __future__ import annotations

import asyncio
import math
import struct
from collections.abc import Iterable

MAGIC = b"API\0"
MAX_FRAME = 16 * 1024 * 1024  # a sane cap: a larger length prefix means a broken peer

Field = str | int | float | bool | None


class ProtocolError(Exception):
    """The peer sent something that is not the TWS protocol; the connection is closed."""


def format_field(value: Field) -> str:
    """Field text as TWS writes it: ints plain, floats like Python's str(), bools 1/0."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return ""
        return str(value)
    return value


def encode(fields: Iterable[Field]) -> bytes:
    """One frame: 4-byte big-endian length, then every field NUL-terminated."""
    body = b"".join(format_field(f).encode() + b"\0" for f in fields)
    return struct.pack(">I", len(body)) + body


def decode_body(body: bytes) -> list[str]:
    """Fields of a frame body (the trailing empty element after the last NUL dropped)."""
    parts = body.decode("utf-8", errors="backslashreplace").split("\0")
    if parts and parts[-1] == "":
        parts.pop()
    return parts


async def read_frame(reader: asyncio.StreamReader) -> bytes:
    """Read one length-prefixed frame body; IncompleteReadError on EOF."""
    header = await reader.readexactly(4)
    (size,) = struct.unpack(">I", header)
    if size > MAX_FRAME:
        raise ProtocolError(f"frame of {size} bytes is too large")
    return await reader.readexactly(size)


async def read_hello(reader: asyncio.StreamReader) -> tuple[int, int, str]:
    """The client hello: b'API\\0' then a frame 'v157..178[ options]' without a NUL.

    Returns (min_version, max_version, connect_options).
    """
    prefix = await reader.readexactly(4)
    if prefix != MAGIC:
        raise ProtocolError("missing API prefix in the client hello")
    text = (await read_frame(reader)).decode("ascii", errors="replace").strip("\0 ")
    token, _, options = text.partition(" ")
    if not token.startswith("v"):
        raise ProtocolError(f"bad version string {text!r}")
    low, sep, high = token[1:].partition("..")
    try:
        lo = int(low)
        hi = int(high) if sep else lo
    except ValueError:
        raise ProtocolError(f"bad version string {text!r}") from None
    return lo, hi, options.strip()


def to_int(text: str, default: int = 0) -> int:
    try:
        return int(float(text)) if text.strip() else default
    except ValueError:
        return default


def to_float(text: str, default: float = 0.0) -> float:
    try:
        return float(text) if text.strip() else default
    except ValueError:
        return default
