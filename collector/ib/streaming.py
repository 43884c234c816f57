"""Streaming subscriptions for `opt-data streaming`: long-lived reqMktData lines.

Unlike the snapshot engine's lines (released as soon as their fields arrive), these stay
open for the whole run; every update IB sends becomes a QuoteSnapshot record that the
caller drains periodically into Parquet parts.
"""

from __future__ import annotations

import logging
from typing import Any

from collector.ib._lib import Ticker
from collector.ib.contracts import option_contract, underlying_contract
from collector.ib.marketdata import quote_from_ticker
from collector.ib.session import IBSession
from collector.ib.types import OptionContract, QuoteSnapshot, UnderlyingRef

log = logging.getLogger(__name__)


class StreamingFeed:
    """Open lines, collect every update, cancel everything on close (use `with`)."""

    def __init__(self, session: IBSession, generic_ticks: str) -> None:
        self.session = session
        self.generic_ticks = generic_ticks
        self._tickers: dict[int, Ticker] = {}
        self._contracts: dict[int, Any] = {}
        self._buffer: list[QuoteSnapshot] = []
        self.errors: list[tuple[int, int, str]] = []
        session.ib.pendingTickersEvent += self._on_pending
        session.add_error_listener(self._on_error)

    def _open(self, conid: int, contract: Any) -> None:
        if conid in self._tickers:
            return
        self._contracts[conid] = contract
        self._tickers[conid] = self.session.ib.reqMktData(
            contract, self.generic_ticks, False, False
        )

    def open_underlying(self, ref: UnderlyingRef) -> None:
        self._open(ref.conid, underlying_contract(ref))

    def open_option(self, option: OptionContract) -> None:
        self._open(option.conid, option_contract(option))

    @property
    def lines(self) -> int:
        return len(self._tickers)

    def _on_pending(self, tickers: set[Ticker]) -> None:
        for ticker in tickers:
            conid = int(getattr(ticker.contract, "conId", 0) or 0)
            if conid in self._tickers:
                self._buffer.append(quote_from_ticker(conid, ticker))

    def _on_error(self, event: Any) -> None:
        if event.conid in self._tickers:
            self.errors.append((event.conid, event.code, event.message))

    def drain(self) -> list[QuoteSnapshot]:
        """Every update since the last drain, oldest first."""
        out, self._buffer = self._buffer, []
        return out

    def close(self) -> None:
        self.session.ib.pendingTickersEvent -= self._on_pending
        self.session.remove_error_listener(self._on_error)
        if self.session.is_connected():
            for contract in self._contracts.values():
                self.session.ib.cancelMktData(contract)
        self._tickers.clear()
        self._contracts.clear()

    def __enter__(self) -> StreamingFeed:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
