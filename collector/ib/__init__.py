"""The IB adapter: the only package that imports ib_async (or ib_insync).

Everything it returns is one of our own frozen records (collector.ib.types); callers
never see the library's camelCase objects.
"""

from collector.ib.errors import (
    ErrorKind,
    IBConnectError,
    IBDisconnected,
    IBError,
    IBErrorEvent,
    IBTimeout,
    classify,
)
from collector.ib.session import IBSession, client_id_candidates
from collector.ib.types import (
    Bar,
    ChainParams,
    Greeks,
    OptionContract,
    QuoteSnapshot,
    UnderlyingRef,
)

__all__ = [
    "Bar",
    "ChainParams",
    "ErrorKind",
    "Greeks",
    "IBConnectError",
    "IBDisconnected",
    "IBError",
    "IBErrorEvent",
    "IBSession",
    "IBTimeout",
    "OptionContract",
    "QuoteSnapshot",
    "UnderlyingRef",
    "classify",
    "client_id_candidates",
]
