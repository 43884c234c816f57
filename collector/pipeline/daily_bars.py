"""History: daily bars built from 8-hour bars (pure), and IB's historical pacing rules."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import pyarrow as pa

from collector.ib.types import Bar
from shared.calendar import ET
from shared.schema import HISTORY_SCHEMA


def bar_day(bar: Bar) -> date:
    """The ET calendar day a bar belongs to."""
    if isinstance(bar.start, datetime):
        start = bar.start if bar.start.tzinfo else bar.start.replace(tzinfo=ET)
        return start.astimezone(ET).date()
    return bar.start


def daily_from_bars(
    symbol: str, conid: int | None, bars: Sequence[Bar], source_bar_size: str, ingest_id: str
) -> list[dict[str, Any]]:
    """Aggregate intraday bars per ET day: first open, max high, min low, last close, sums."""
    by_day: dict[date, list[Bar]] = {}
    for b in sorted(bars, key=lambda b: (bar_day(b), _start_key(b))):
        by_day.setdefault(bar_day(b), []).append(b)
    rows = []
    for day, group in sorted(by_day.items()):
        volume = sum(b.volume for b in group if b.volume > 0)
        wap_num = sum(b.wap * b.volume for b in group if b.volume > 0 and b.wap > 0)
        rows.append(
            {
                "underlying": symbol,
                "conid": conid,
                "bar_date": day,
                "open": group[0].open,
                "high": max(b.high for b in group),
                "low": min(b.low for b in group),
                "close": group[-1].close,
                "volume": volume,
                "wap": wap_num / volume if volume > 0 else None,
                "bar_count": sum(max(b.bar_count, 0) for b in group),
                "source_bar_size": source_bar_size,
                "source_bars": len(group),
                "ingest_id": ingest_id,
            }
        )
    return rows


def _start_key(b: Bar) -> float:
    if isinstance(b.start, datetime):
        return b.start.timestamp()
    return datetime.combine(b.start, datetime.min.time(), ET).timestamp()


def merge_history(
    existing: pa.Table | None, rows: list[dict[str, Any]], keep_after: date | None = None
) -> pa.Table:
    """Existing bars plus new ones; a new bar replaces the stored bar of the same day."""
    merged: dict[date, dict[str, Any]] = {}
    if existing is not None:
        for r in existing.to_pylist():
            merged[r["bar_date"]] = r
    for r in rows:
        merged[r["bar_date"]] = r
    ordered = [merged[d] for d in sorted(merged) if keep_after is None or d > keep_after]
    return pa.Table.from_pylist(ordered, schema=HISTORY_SCHEMA)


class HistoricalPacer:
    """IB's historical-data pacing: <= 60 requests per 10 min and <= 5 per 2 s (we stay under 6)."""

    def __init__(self, per_10min: int = 60, per_2s: int = 5) -> None:
        self.per_10min = per_10min
        self.per_2s = per_2s
        self._times: deque[float] = deque()

    def delay(self, now: float) -> float:
        while self._times and now - self._times[0] >= 600:
            self._times.popleft()
        waits = [0.0]
        if len(self._times) >= self.per_10min:
            waits.append(self._times[-self.per_10min] + 600 - now)
        recent = [t for t in self._times if now - t < 2.0]
        if len(recent) >= self.per_2s:
            waits.append(recent[-self.per_2s] + 2.0 - now)
        return max(waits)

    async def wait(self) -> None:
        d = self.delay(time.monotonic())
        if d > 0:
            await asyncio.sleep(d)
        self._times.append(time.monotonic())
