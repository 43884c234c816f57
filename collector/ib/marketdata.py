"""Streaming market-data lines: open, watch, release; tickers become QuoteSnapshot records.

A "line" is one streaming reqMktData subscription. The snapshot engine owns the pacing;
this module only translates: it never sleeps and never decides when to open or cancel.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from collector.ib._lib import Contract, Ticker
from collector.ib.contracts import option_contract
from collector.ib.session import IBSession
from collector.ib.types import Greeks, OptionContract, QuoteSnapshot

UpdateListener = Callable[[set[int]], None]


def _num(x: Any) -> float:
    return float(x) if isinstance(x, int | float) else math.nan


def _greeks(comp: Any) -> Greeks | None:
    if comp is None:
        return None
    return Greeks(
        iv=comp.impliedVol,
        delta=comp.delta,
        gamma=comp.gamma,
        vega=comp.vega,
        theta=comp.theta,
        model_price=comp.optPrice,
        pv_dividend=comp.pvDividend,
        und_price=comp.undPrice,
    )


def quote_from_ticker(conid: int, ticker: Ticker, errors: tuple[int, ...] = ()) -> QuoteSnapshot:
    """Copy the ticker's fields as they are; cleaning sentinels is the pipeline's job."""
    return QuoteSnapshot(
        conid=conid,
        received_at=datetime.now(UTC),
        market_data_type=int(ticker.marketDataType or 1),
        bid=_num(ticker.bid),
        ask=_num(ticker.ask),
        last=_num(ticker.last),
        bid_size=_num(ticker.bidSize),
        ask_size=_num(ticker.askSize),
        last_size=_num(ticker.lastSize),
        volume=_num(ticker.volume),
        close=_num(ticker.close),
        call_open_interest=_num(ticker.callOpenInterest),
        put_open_interest=_num(ticker.putOpenInterest),
        model=_greeks(ticker.modelGreeks),
        errors=errors,
    )


def has_quote(ticker: Ticker) -> bool:
    """Both sides answered (IB's "no bid/ask" -1 counts as an answer)."""
    return not (math.isnan(_num(ticker.bid)) or math.isnan(_num(ticker.ask)))


def has_open_interest(ticker: Ticker, right: str) -> bool:
    value = ticker.callOpenInterest if right == "C" else ticker.putOpenInterest
    return not math.isnan(_num(value))


@dataclass
class Line:
    contract: OptionContract
    ticker: Ticker
    ib_contract: Contract
    market_data_type: int
    errors: list[int] = field(default_factory=list)

    def complete(self, require_greeks: bool) -> bool:
        if not has_quote(self.ticker):
            return False
        return not require_greeks or self.ticker.modelGreeks is not None

    def snapshot(self) -> QuoteSnapshot:
        return quote_from_ticker(self.contract.conid, self.ticker, tuple(self.errors))


class MarketDataLines:
    """Opens and cancels lines on one session; reports which conids got new data."""

    def __init__(self, session: IBSession) -> None:
        self.session = session
        self.lines: dict[int, Line] = {}
        self._listeners: list[UpdateListener] = []
        session.ib.pendingTickersEvent += self._on_pending

    def detach(self) -> None:
        self.session.ib.pendingTickersEvent -= self._on_pending

    def on_update(self, listener: UpdateListener) -> None:
        self._listeners.append(listener)

    def open(
        self,
        contract: OptionContract,
        generic_ticks: str,
        *,
        exchange: str | None = None,
        market_data_type: int | None = None,
    ) -> Line:
        """One reqMktData (plus two reqMarketDataType around it when a type is forced)."""
        ib = self.session.ib
        c = option_contract(contract, exchange)
        # A fresh Ticker per subscription: the library would otherwise reuse the old one
        # (with its old values) for a contract subscribed again on this connection.
        ib.wrapper.tickers.pop(hash(c), None)
        kind = market_data_type or self.session.market_data_type
        if kind != self.session.market_data_type:
            self.session.request_market_data_type(kind)
            ticker = ib.reqMktData(c, generic_ticks, False, False)
            self.session.request_market_data_type(self.session.market_data_type)
        else:
            ticker = ib.reqMktData(c, generic_ticks, False, False)
        line = Line(contract, ticker, c, kind)
        self.lines[contract.conid] = line
        return line

    def messages_for_open(self, market_data_type: int | None) -> int:
        kind = market_data_type or self.session.market_data_type
        return 1 if kind == self.session.market_data_type else 3

    def close(self, conid: int) -> QuoteSnapshot | None:
        """Cancel the line (one message) and return its last state."""
        line = self.lines.pop(conid, None)
        if line is None:
            return None
        snap = line.snapshot()
        if self.session.is_connected():
            self.session.ib.cancelMktData(line.ib_contract)
        return snap

    def drop_all(self) -> list[OptionContract]:
        """After a disconnect: forget every line (the server already did); return their contracts."""
        contracts = [line.contract for line in self.lines.values()]
        self.lines.clear()
        return contracts

    def note_error(self, conid: int, code: int) -> None:
        line = self.lines.get(conid)
        if line is not None:
            line.errors.append(code)

    def _on_pending(self, tickers: set[Ticker]) -> None:
        conids = {int(t.contract.conId) for t in tickers if t.contract is not None}
        if conids:
            for listener in self._listeners:
                listener(conids)


async def snapshot_quotes(
    session: IBSession, contracts: list[OptionContract], *, chunk: int = 100, timeout: float = 30.0
) -> list[QuoteSnapshot | None]:
    """ib_async's own way: reqTickers (snapshot=True, no generic ticks) in chunks of `chunk`.

    Kept for comparison with the line-pool engine (benchmark); the collector does not use it.
    """
    out: list[QuoteSnapshot | None] = []
    for start in range(0, len(contracts), chunk):
        batch = contracts[start : start + chunk]
        tickers = await session.request(
            session.ib.reqTickersAsync(*[option_contract(c) for c in batch]),
            f"reqTickers of {len(batch)} contracts",
            timeout=timeout,
        )
        by_conid = {int(t.contract.conId): t for t in tickers if t.contract is not None}
        for c in batch:
            t = by_conid.get(c.conid)
            out.append(None if t is None else quote_from_ticker(c.conid, t))
    return out
