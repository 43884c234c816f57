"""The IB side of streaming, through the adapter (collector.ib): session, contracts, lines."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date

from collector.ib import IBSession
from collector.ib.contracts import (
    OptionRequest,
    chain_params,
    qualify_options,
    qualify_underlying,
    reference_price,
)
from collector.ib.streaming import StreamingFeed
from collector.ops.streaming import ContractInfo, near_the_money
from shared.config import AppConfig

log = logging.getLogger(__name__)


@asynccontextmanager
async def streaming_session(cfg: AppConfig) -> AsyncIterator[tuple[IBSession, StreamingFeed]]:
    async with IBSession(cfg.ib) as session:
        with StreamingFeed(session, cfg.streaming.generic_ticks) as feed:
            yield session, feed


async def open_subscriptions(
    cfg: AppConfig,
    session: IBSession,
    feed: StreamingFeed,
    info: dict[int, ContractInfo],
    today: date,
) -> None:
    """Each underlying, then its near-the-money calls and puts of the nearest expiries."""
    sc = cfg.streaming
    for symbol in sc.underlyings:
        ref = await qualify_underlying(session, symbol)
        if ref is None:
            raise RuntimeError(f"streaming: IB does not know underlying {symbol}")
        info[ref.conid] = ContractInfo(symbol, ref.sec_type)
        feed.open_underlying(ref)
        price = await reference_price(session, ref)
        params = await chain_params(session, ref)
        if price is None or not params:
            log.warning("streaming %s: no reference price or option chain; underlying only", symbol)
            continue
        chain = next((p for p in params if p.trading_class == symbol), params[0])
        picks = near_the_money(
            chain.expirations,
            chain.strikes,
            price,
            today,
            expiries=sc.expiries,
            strikes_per_side=sc.strikes_per_side,
            trading_class=chain.trading_class,
        )
        requests = [
            OptionRequest(symbol, p.expiry, p.strike, p.right, p.trading_class) for p in picks
        ]
        outcome = await qualify_options(
            session, requests, ref.conid, batch_size=cfg.discovery.qualify_batch_size
        )
        for option in outcome.qualified:
            info[option.conid] = ContractInfo(
                symbol, "OPT", option.expiry, option.strike, option.right
            )
            feed.open_option(option)
        log.info(
            "streaming %s: %d options (%d unknown pairs dropped)",
            symbol,
            len(outcome.qualified),
            outcome.dropped,
        )
