"""IB error codes classified in tables, and the exceptions the adapter raises.

The tables are the single place that decides what a code means for the collector: the
snapshot engine reacts to the class (back off, fall back to delayed, drop a contract,
reconnect), never to raw numbers scattered through the code.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ErrorKind(StrEnum):
    CONNECTIVITY_LOST = "connectivity_lost"
    CONNECTIVITY_RESTORED = "connectivity_restored"
    PACING = "pacing"
    RATE_LIMIT = "rate_limit"
    LINE_LIMIT = "line_limit"
    PERMISSION = "permission"
    DELAYED_NOTICE = "delayed_notice"
    NO_SECURITY_DEFINITION = "no_security_definition"
    CLIENT_ID_IN_USE = "client_id_in_use"
    INFORMATIONAL = "informational"
    OTHER = "other"


CONNECTIVITY_LOST = frozenset({1100, 1300, 2103, 2105, 2110, 2157, 504, 502})
CONNECTIVITY_RESTORED = frozenset({1101, 1102})
# 100: more than ~50 messages/s reached IB (requests and cancels alike).
RATE_LIMIT = frozenset({100})
# 420 / 162 (with "pacing" in the text): request pacing violations.
PACING = frozenset({420})
LINE_LIMIT = frozenset({101})
# 354/10168: not subscribed; 10197: competing live session; 10089/10091: needs a subscription.
# (10090, "part of the data is not subscribed", keeps the allowed data flowing: OTHER.)
PERMISSION = frozenset({354, 10168, 10197, 10089, 10091})
DELAYED_NOTICE = frozenset({10167})
NO_SECURITY_DEFINITION = frozenset({200})
CLIENT_ID_IN_USE = frozenset({326})
INFORMATIONAL = frozenset({165, 300, 321, 366, 2104, 2106, 2107, 2108, 2119, 2158, 2100, 2150})

# Connectivity "restored - data lost": every market-data line must be re-issued.
DATA_LOST = frozenset({1101})


def classify(code: int, message: str = "") -> ErrorKind:
    """The class of an IB error code; 162 is pacing only when IB says so in the text."""
    if code == 162:
        return ErrorKind.PACING if "pacing" in message.lower() else ErrorKind.OTHER
    for kind, codes in (
        (ErrorKind.CONNECTIVITY_LOST, CONNECTIVITY_LOST),
        (ErrorKind.CONNECTIVITY_RESTORED, CONNECTIVITY_RESTORED),
        (ErrorKind.PACING, PACING),
        (ErrorKind.RATE_LIMIT, RATE_LIMIT),
        (ErrorKind.LINE_LIMIT, LINE_LIMIT),
        (ErrorKind.PERMISSION, PERMISSION),
        (ErrorKind.DELAYED_NOTICE, DELAYED_NOTICE),
        (ErrorKind.NO_SECURITY_DEFINITION, NO_SECURITY_DEFINITION),
        (ErrorKind.CLIENT_ID_IN_USE, CLIENT_ID_IN_USE),
    ):
        if code in codes:
            return kind
    if code in INFORMATIONAL or 2100 <= code < 2200:
        return ErrorKind.INFORMATIONAL
    return ErrorKind.OTHER


@dataclass(frozen=True)
class IBErrorEvent:
    """One error message from IB, already classified. conid is 0 when not contract-bound."""

    req_id: int
    code: int
    message: str
    kind: ErrorKind
    conid: int = 0


class IBError(Exception):
    """Base class of adapter failures (one line, names the request)."""


class IBConnectError(IBError):
    """Could not connect (or reconnect) to the gateway."""


class IBTimeout(IBError):
    """An awaited request did not finish within its timeout."""


class IBDisconnected(IBError):
    """The connection dropped while a request was in flight."""
