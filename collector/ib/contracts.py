"""Contract look-ups: underlyings, option-chain parameters, batched option qualification."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from collector.ib._lib import Contract, Index, Option, Stock
from collector.ib.errors import ErrorKind, IBErrorEvent
from collector.ib.session import IBSession
from collector.ib.types import ChainParams, OptionContract, UnderlyingRef
from shared.universe import INDEX_SYMBOLS

log = logging.getLogger(__name__)

# Index underlyings IB lists on CBOE (SPX, NDX, VIX ...): qualified as Index@CBOE.


@dataclass(frozen=True)
class QualifyOutcome:
    qualified: list[OptionContract]
    dropped: int  # pairs IB does not know (error 200): dropped and counted, never retried


def underlying_contract(ref: UnderlyingRef) -> Contract:
    if ref.sec_type == "IND":
        return Index(ref.symbol, ref.exchange or "CBOE", ref.currency, conId=ref.conid)
    return Stock(ref.symbol, ref.exchange or "SMART", ref.currency, conId=ref.conid)


async def qualify_underlying(
    session: IBSession, symbol: str, sec_type: str = ""
) -> UnderlyingRef | None:
    """Stock@SMART, or Index@CBOE for the CBOE indices (or when the universe says IND)."""
    attempts: list[Contract] = []
    if sec_type == "IND" or symbol in INDEX_SYMBOLS:
        attempts.append(Index(symbol, "CBOE", "USD"))
    if sec_type != "IND":
        attempts.append(Stock(symbol, "SMART", "USD"))
    for contract in attempts:
        result = await session.request(
            session.ib.qualifyContractsAsync(contract), f"qualify {symbol}"
        )
        c = result[0] if result else None
        if isinstance(c, Contract) and c.conId:
            return UnderlyingRef(
                symbol, int(c.conId), str(c.secType), str(c.exchange), str(c.currency or "USD")
            )
    return None


async def chain_params(session: IBSession, ref: UnderlyingRef) -> list[ChainParams]:
    rows = await session.request(
        session.ib.reqSecDefOptParamsAsync(ref.symbol, "", ref.sec_type, ref.conid),
        f"reqSecDefOptParams {ref.symbol}",
    )
    return [
        ChainParams(
            exchange=str(r.exchange),
            trading_class=str(r.tradingClass),
            multiplier=str(r.multiplier),
            expirations=tuple(sorted(str(e) for e in r.expirations)),
            strikes=tuple(sorted(float(s) for s in r.strikes)),
        )
        for r in rows or []
    ]


def _to_option(c: Contract, underlying_conid: int) -> OptionContract:
    expiry = str(c.lastTradeDateOrContractMonth)[:8]
    return OptionContract(
        conid=int(c.conId),
        symbol=str(c.symbol),
        expiry=date(int(expiry[:4]), int(expiry[4:6]), int(expiry[6:8])),
        strike=float(c.strike),
        right="C" if str(c.right).upper().startswith("C") else "P",
        multiplier=int(float(c.multiplier)) if c.multiplier else None,
        exchange=str(c.exchange or "SMART"),
        currency=str(c.currency or "USD"),
        local_symbol=str(c.localSymbol or ""),
        trading_class=str(c.tradingClass or ""),
        underlying_conid=underlying_conid,
    )


@dataclass(frozen=True)
class OptionRequest:
    symbol: str
    expiry: str  # YYYYMMDD
    strike: float
    right: str
    trading_class: str


async def qualify_options(
    session: IBSession,
    requests: Sequence[OptionRequest],
    underlying_conid: int,
    *,
    batch_size: int = 40,
    exchange: str = "SMART",
) -> QualifyOutcome:
    """qualifyContracts in batches (SMART only); unknown pairs are dropped and counted."""
    qualified: list[OptionContract] = []
    dropped = 0
    for start in range(0, len(requests), batch_size):
        batch = [
            Option(r.symbol, r.expiry, r.strike, r.right, exchange, tradingClass=r.trading_class)
            for r in requests[start : start + batch_size]
        ]
        result = await session.request(
            session.ib.qualifyContractsAsync(*batch),
            f"qualify {len(batch)} options of {requests[start].symbol}",
            timeout=max(
                session.cfg.request_timeout_sec, 2.0 * len(batch) / session.max_messages_per_sec
            ),
        )
        for item in result:
            if isinstance(item, Contract) and item.conId:
                qualified.append(_to_option(item, underlying_conid))
            else:
                dropped += 1
    return QualifyOutcome(qualified, dropped)


def option_contract(oc: OptionContract, exchange: str | None = None) -> Contract:
    """An ib_async Option for a qualified contract (routing exchange may be overridden)."""
    return Option(
        oc.symbol,
        oc.expiry.strftime("%Y%m%d"),
        oc.strike,
        oc.right,
        exchange or oc.exchange,
        multiplier=str(oc.multiplier or ""),
        currency=oc.currency,
        conId=oc.conid,
        localSymbol=oc.local_symbol,
        tradingClass=oc.trading_class,
    )


PRICE_ATTEMPTS = 5
PRICE_RETRY_PAUSE_SEC = 0.2


def _good(x: object) -> bool:
    return isinstance(x, int | float) and math.isfinite(x) and x > 0


async def reference_price(
    session: IBSession,
    ref: UnderlyingRef,
    *,
    allow_delayed: bool = True,
    timeout: float | None = None,
) -> float | None:
    """The underlying's price now: last, else the bid/ask midpoint, else the previous close.

    A refused request (e.g. pacing, 420) is asked again a few times; without a live
    permission (still no usable value), delayed data is tried when allowed.
    """
    refused: list[ErrorKind] = []

    def watch(ev: IBErrorEvent) -> None:
        if ev.conid == ref.conid:
            refused.append(ev.kind)

    session.add_error_listener(watch)
    try:
        price = None
        for attempt in range(PRICE_ATTEMPTS):
            price = await _snapshot_price(session, ref, timeout)
            if price is not None or ErrorKind.PERMISSION in refused:
                break
            await asyncio.sleep(PRICE_RETRY_PAUSE_SEC * (attempt + 1))
    finally:
        session.remove_error_listener(watch)
    if price is None and allow_delayed and session.market_data_type in (1, 2):
        delayed = 3 if session.market_data_type == 1 else 4
        restore = session.market_data_type
        session.set_market_data_type(delayed)
        try:
            price = await _snapshot_price(session, ref, timeout)
        finally:
            if session.is_connected():
                session.set_market_data_type(restore)
    return price


async def _snapshot_price(
    session: IBSession, ref: UnderlyingRef, timeout: float | None
) -> float | None:
    tickers = await session.request(
        session.ib.reqTickersAsync(underlying_contract(ref)),
        f"reference price of {ref.symbol}",
        timeout=timeout,
    )
    if not tickers:
        return None
    t = tickers[0]
    if _good(t.last):
        return float(t.last)
    if _good(t.bid) and _good(t.ask):
        return (float(t.bid) + float(t.ask)) / 2.0
    if _good(t.close):
        return float(t.close)
    return None


async def list_expiry_options(
    session: IBSession,
    ref: UnderlyingRef,
    expiry: str,
    trading_class: str,
    *,
    right: str = "",
    exchange: str = "SMART",
) -> list[OptionContract]:
    """Every listed option of one expiry (and right, when given) in one reqContractDetails.

    Leaving the strike open makes IB answer with the contracts that exist, so the union
    of strikes reqSecDefOptParams returns (some of which an expiry does not list) never
    turns into error 200s: discovery's "union trap". IB answers an incompletely defined
    contract with every contract that matches it, one contractDetails message each, then
    contractDetailsEnd (https://interactivebrokers.github.io/tws-api/contract_details.html).
    """
    probe = Option(ref.symbol, expiry, 0.0, right, exchange, tradingClass=trading_class)
    details = await session.request(
        session.ib.reqContractDetailsAsync(probe),
        f"list {ref.symbol} {expiry} {right or 'C/P'} options",
    )
    return [
        _to_option(d.contract, ref.conid) for d in details or [] if d.contract and d.contract.conId
    ]
