"""`opt-data streaming`: the IB loop. Subscribe the configured underlyings and their
near-the-money options, flush updates every streaming.flush_interval_sec through the part
writer, and exit cleanly when --duration is up.

Sharded (`--shard i/N`, `[shard]`), a collector streams only the underlyings of its shard
(shared.universe's hash rule, the one the snapshots use), under a lock of its own shard, and
its ledger run carries the shard like a snapshot run does."""

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
from collector.lock import RunLock
from collector.pipeline.run import JobResult, RunContext
from collector.streaming.selection import near_the_money
from collector.streaming.writer import ContractInfo, PartWriter, StreamingSummary
from shared.calendar import today_et
from shared.config import AppConfig
from shared.storage import Layout
from shared.tasks import Task
from shared.universe import Shard

log = logging.getLogger(__name__)
LOCK_NAME = "streaming"  # + the shard's suffix: one streamer per shard, shards side by side


def streaming_symbols(cfg: AppConfig) -> list[str]:
    """streaming.underlyings that this collector's shard streams (all of them unsharded)."""
    shard = Shard.from_config(cfg)
    return [s for s in cfg.streaming.underlyings if shard.holds(s)]


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
    symbols: list[str],
) -> None:
    """Each underlying, then its near-the-money calls and puts of the nearest expiries."""
    sc = cfg.streaming
    for symbol in symbols:
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
    """Under this shard's lock and ledger run: subscribe, flush periodically, stop at the
    deadline (or on error) with a last flush. A held lock raises LockHeld before anything
    is written."""
    shard = Shard.from_config(cfg)
    layout = Layout.from_config(cfg)
    trade_date = today_et()
    symbols = streaming_symbols(cfg)
    summary = StreamingSummary(trade_date, shard=shard.label, underlyings=symbols)
    command = f"streaming --shard {shard.label}" if shard.sharded else "streaming"
    with RunLock(layout.run_locks(), LOCK_NAME + shard.lock_suffix, command=command):
        ctx = RunContext(cfg, Task.STREAMING, trade_date)
        summary.run_id = ctx.run_id
        if symbols:
            await _stream(cfg, layout, ctx, symbols, duration, summary)
        else:  # a shard may hold none of a short list: done, and said so
            log.info("streaming: shard %s holds none of streaming.underlyings", shard.label)
        ctx.finish(
            JobResult(
                Task.STREAMING,
                "ok" if summary.ok else "failed",
                rows=summary.rows,
                total=summary.lines,
                succeeded=len(summary.streamed),
                message=summary.line(),
                details={"underlyings": symbols, "parts": len(summary.parts)},
            )
        )
    return summary


async def _stream(
    cfg: AppConfig,
    layout: Layout,
    ctx: RunContext,
    symbols: list[str],
    duration: float,
    summary: StreamingSummary,
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + duration
    info: dict[int, ContractInfo] = {}
    writer = PartWriter(layout, summary.trade_date, info, f"streaming-{uuid.uuid4().hex[:12]}")

    def flush(feed: StreamingFeed) -> None:
        records = writer.flush(feed.drain(), summary)
        if records:  # one ledger row per underlying and day, adding up every part
            ctx.ledger.add_streamed(records, ctx.run_id)
            summary.streamed.update(r.underlying for r in records)

    try:
        async with streaming_session(cfg) as (session, feed):
            await open_subscriptions(cfg, session, feed, info, summary.trade_date, symbols)
            summary.lines = feed.lines
            log.info("streaming %d lines until the deadline (%.0f s)", feed.lines, duration)
            while (left := deadline - loop.time()) > 0:
                await asyncio.sleep(min(cfg.streaming.flush_interval_sec, left))
                flush(feed)
            flush(feed)
    except Exception as exc:  # reported in the summary and the ledger; the exit code says it failed
        log.exception("streaming stopped")
        summary.error = f"{type(exc).__name__}: {exc}"
