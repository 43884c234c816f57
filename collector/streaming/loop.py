"""`opt-data streaming`: the IB loop. Subscribe the configured underlyings and their
near-the-money options, flush updates every streaming.flush_interval_sec through the part
writer, and exit cleanly when --duration is up."""

from __future__ import annotations

import asyncio
import logging
import uuid
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
from collector.streaming.selection import near_the_money
from collector.streaming.writer import ContractInfo, PartWriter, StreamingSummary
from shared.calendar import today_et
from shared.config import AppConfig
from shared.storage import Layout

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


async def run_streaming(cfg: AppConfig, duration: float) -> StreamingSummary:
    """Subscribe, flush periodically, stop at the deadline (or on error) with a last flush."""
    trade_date = today_et()
    summary = StreamingSummary(trade_date)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + duration
    info: dict[int, ContractInfo] = {}
    writer = PartWriter(
        Layout.from_config(cfg), trade_date, info, f"streaming-{uuid.uuid4().hex[:12]}"
    )
    try:
        async with streaming_session(cfg) as (session, feed):
            await open_subscriptions(cfg, session, feed, info, trade_date)
            summary.lines = feed.lines
            log.info("streaming %d lines until the deadline (%.0f s)", feed.lines, duration)
            while (left := deadline - loop.time()) > 0:
                await asyncio.sleep(min(cfg.streaming.flush_interval_sec, left))
                writer.flush(feed.drain(), summary)
            writer.flush(feed.drain(), summary)
    except Exception as exc:  # reported in the summary; the exit code says it failed
        log.exception("streaming stopped")
        summary.error = f"{type(exc).__name__}: {exc}"
    return summary
