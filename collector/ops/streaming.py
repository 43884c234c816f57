"""`opt-data streaming`: subscribe the configured underlyings and their near-the-money options,
flush updates every streaming.flush_interval_sec into raw/ib/streaming/date=D/underlying=SYM/
part-<n>.parquet (STREAMING_SCHEMA), and exit cleanly when --duration is up.

Pure parts (contract selection, rows -> table, part numbering) are separate from the loop.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from shared.calendar import today_et
from shared.config import AppConfig
from shared.schema import STREAMING_SCHEMA
from shared.storage import Layout, atomic_write_parquet

log = logging.getLogger(__name__)
PART_RE = re.compile(r"^part-(\d+)\.parquet$")
SENTINEL_MAX = 1e300  # DBL_MAX and friends: IB's "not computed"


@dataclass(frozen=True)
class Pick:
    expiry: str  # YYYYMMDD
    strike: float
    right: str
    trading_class: str


def near_the_money(
    expirations: Sequence[str],
    strikes: Sequence[float],
    price: float,
    today: date,
    *,
    expiries: int,
    strikes_per_side: int,
    trading_class: str,
) -> list[Pick]:
    """The `expiries` nearest expiries from today on, and `strikes_per_side` strikes below and
    above the price (the nearest strike counts as the first above/below), calls and puts."""
    upcoming = sorted(e for e in expirations if e >= today.strftime("%Y%m%d"))[:expiries]
    ordered = sorted(set(strikes))
    below = [s for s in ordered if s <= price][-strikes_per_side:]
    above = [s for s in ordered if s > price][:strikes_per_side]
    chosen = below + above
    return [Pick(e, s, r, trading_class) for e in upcoming for s in chosen for r in ("C", "P")]


def clean(value: Any) -> float | None:
    """IB sentinels (-1, -2 for 'none', NaN, DBL_MAX) are stored as null, never as numbers."""
    if value is None or not isinstance(value, int | float):
        return None
    v = float(value)
    if math.isnan(v) or math.isinf(v) or abs(v) >= SENTINEL_MAX or v in (-1.0, -2.0):
        return None
    return v


@dataclass(frozen=True)
class ContractInfo:
    underlying: str
    sec_type: str
    expiry: date | None = None
    strike: float | None = None
    right: str | None = None


def rows_to_table(
    quotes: Sequence[Any], info: dict[int, ContractInfo], trade_date: date, ingest_id: str
) -> pa.Table:
    """QuoteSnapshot-like records (conid, received_at, bid, ..., model) -> STREAMING_SCHEMA."""
    rows = []
    for q in quotes:
        meta = info.get(q.conid)
        if meta is None:
            continue
        model = q.model
        rows.append(
            {
                "trade_date": trade_date,
                "event_time": q.received_at,
                "ingest_id": ingest_id,
                "underlying": meta.underlying,
                "conid": q.conid,
                "sec_type": meta.sec_type,
                "expiry": meta.expiry,
                "strike": meta.strike,
                "right": meta.right,
                "bid": clean(q.bid),
                "ask": clean(q.ask),
                "last": clean(q.last),
                "bid_size": clean(q.bid_size),
                "ask_size": clean(q.ask_size),
                "volume": clean(q.volume),
                "iv": clean(model.iv) if model else None,
                "delta": _greek(model, "delta"),
                "gamma": _greek(model, "gamma"),
                "vega": _greek(model, "vega"),
                "theta": _greek(model, "theta"),
                "und_price": clean(model.und_price) if model else None,
                "market_data_type": q.market_data_type,
            }
        )
    return pa.Table.from_pylist(rows, schema=STREAMING_SCHEMA)


def _greek(model: Any, name: str) -> float | None:
    # delta/theta may legitimately be -1 or below; only NaN/DBL_MAX mean "not computed" there.
    if model is None:
        return None
    value = getattr(model, name)
    if (
        value is None
        or not isinstance(value, int | float)
        or math.isnan(value)
        or abs(value) >= SENTINEL_MAX
    ):
        return None
    return float(value)


def next_part(directory: Path) -> int:
    used = [
        int(m.group(1)) for p in directory.glob("part-*.parquet") if (m := PART_RE.match(p.name))
    ]
    return max(used, default=-1) + 1


@dataclass
class StreamingSummary:
    trade_date: date
    lines: int = 0
    rows: int = 0
    parts: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def line(self) -> str:
        parts = len(self.parts)
        head = f"streaming {self.trade_date}: {self.lines} lines, {self.rows} rows in {parts} parts"
        return head + (f"; error: {self.error}" if self.error else "")


class PartWriter:
    """Writes one part per underlying per flush; numbering continues across restarts."""

    def __init__(
        self, layout: Layout, trade_date: date, info: dict[int, ContractInfo], ingest_id: str
    ) -> None:
        self.layout = layout
        self.trade_date = trade_date
        self.info = info
        self.ingest_id = ingest_id

    def flush(self, quotes: Sequence[Any], summary: StreamingSummary) -> None:
        table = rows_to_table(quotes, self.info, self.trade_date, self.ingest_id)
        if not table.num_rows:
            return
        for symbol in sorted(set(table.column("underlying").to_pylist())):
            part = table.filter(pc.equal(table.column("underlying"), symbol))
            directory = self.layout.streaming_dir(self.trade_date, symbol)
            directory.mkdir(parents=True, exist_ok=True)
            path = directory / f"part-{next_part(directory)}.parquet"
            atomic_write_parquet(path, part)
            summary.rows += part.num_rows
            summary.parts.append(str(path))


async def run_streaming(cfg: AppConfig, duration: float) -> StreamingSummary:
    """Subscribe, flush periodically, stop at the deadline (or on error) with a last flush."""
    from collector.ops.streaming_ib import open_subscriptions, streaming_session

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
