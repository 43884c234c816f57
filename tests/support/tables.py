"""Small hand-built chain tables (intraday and daily_clean) for QA and maintenance tests."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pyarrow as pa

from shared.schema import DAILY_CLEAN_SCHEMA, SNAPSHOT_SCHEMA, conform

# A full Friday session (09:30-16:00), well away from holidays and DST changes.
DAY = date(2026, 11, 20)


def snapshot_rows(
    symbol: str, slot: str, n: int = 4, *, delayed: int = 0, day: date = DAY, conid_base: int = 1000
) -> pa.Table:
    """n option rows of one (symbol, slot); the first `delayed` rows are delayed fallbacks."""
    hh, mm = (int(x) for x in slot.split(":"))
    sample = datetime(day.year, day.month, day.day, hh + 5, mm, tzinfo=UTC)
    rows = {
        "trade_date": [day] * n,
        "slot": [slot] * n,
        "sample_time": [sample] * n,
        "ingest_id": ["test"] * n,
        "underlying": [symbol] * n,
        "conid": [conid_base + i for i in range(n)],
        "expiry": [day + timedelta(days=7)] * n,
        "strike": [100.0 + 5 * (i // 2) for i in range(n)],
        "right": ["C" if i % 2 == 0 else "P" for i in range(n)],
        "bid": [1.0] * n,
        "ask": [1.2] * n,
        "market_data_type": [3 if i < delayed else 1 for i in range(n)],
        "delayed_fallback": [i < delayed for i in range(n)],
        "data_quality_flags": [["delayed"] if i < delayed else [] for i in range(n)],
    }
    return conform(pa.table(rows), SNAPSHOT_SCHEMA)


def daily_rows(symbol: str, n: int = 4, *, fallback: int = 0, missing_oi: int = 0) -> pa.Table:
    base = snapshot_rows(symbol, "16:00", n).to_pylist()
    for i, row in enumerate(base):
        row["rollup_strategy"] = "last_good" if i < fallback else "close"
        row["open_interest"] = None if i < missing_oi else 100 + i
    return conform(pa.Table.from_pylist(base), DAILY_CLEAN_SCHEMA)
