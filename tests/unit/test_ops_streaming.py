"""Streaming's pure parts: contract choice, sentinel cleaning, part files, the session window."""

from __future__ import annotations

import math
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq

from collector.pipeline.sentinels import clean_price as clean
from collector.streaming.selection import near_the_money
from collector.streaming.window import duration_now, next_window
from collector.streaming.writer import ContractInfo, PartWriter, StreamingSummary, next_part
from shared.calendar import ET
from shared.config import load_config
from shared.schema import STREAMING_SCHEMA
from shared.storage import Layout
from tests.support.config import tmp_config


def test_near_the_money_picks_nearest_expiries_and_strikes() -> None:
    picks = near_the_money(
        ["20261113", "20261120", "20261127", "20261218"],
        [90, 95, 100, 105, 110, 115],
        101.5,
        date(2026, 11, 20),
        expiries=2,
        strikes_per_side=2,
        trading_class="AAPL",
    )
    assert sorted({p.expiry for p in picks}) == ["20261120", "20261127"]
    assert sorted({p.strike for p in picks}) == [95, 100, 105, 110]
    assert len(picks) == 2 * 4 * 2


def test_sentinels_become_null() -> None:
    assert [clean(v) for v in (-1, -2.0, math.nan, 1.7976931348623157e308, 0.0, 2.5, None)] == [
        None,
        None,
        None,
        None,
        0.0,
        2.5,
        None,
    ]


@dataclass(frozen=True)
class _Greeks:
    iv: float
    delta: float
    gamma: float
    vega: float
    theta: float
    und_price: float


@dataclass(frozen=True)
class _Quote:
    conid: int
    received_at: datetime
    market_data_type: int
    bid: float
    ask: float
    last: float
    bid_size: float
    ask_size: float
    volume: float
    model: _Greeks | None


def test_parts_are_numbered_per_underlying_and_match_the_schema(tmp_path: Path) -> None:
    layout = Layout.from_config(load_config(tmp_config(tmp_path), env={}))
    day = date(2026, 11, 20)
    info = {
        1: ContractInfo("SPY", "STK"),
        2: ContractInfo("SPY", "OPT", day, 600.0, "C"),
        3: ContractInfo("QQQ", "STK"),
    }
    now = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
    quotes = [
        _Quote(1, now, 1, 600.1, 600.2, 600.15, 5, 7, 1000, None),
        _Quote(2, now, 1, 3.1, -1, math.nan, 1, 1, 10, _Greeks(0.2, -1.0, 0.01, 0.3, -0.05, 600.1)),
        _Quote(3, now, 3, 500.0, 500.1, 500.0, 1, 1, 1, None),
        _Quote(99, now, 1, 1, 1, 1, 1, 1, 1, None),  # not ours: ignored
    ]
    summary = StreamingSummary(day)
    writer = PartWriter(layout, day, info, "ingest-1")
    writer.flush(quotes, summary)
    writer.flush(quotes[:1], summary)
    spy = layout.streaming_dir(day, "SPY")
    assert sorted(p.name for p in spy.iterdir()) == ["part-0.parquet", "part-1.parquet"]
    assert next_part(spy) == 2 and summary.rows == 4 and len(summary.parts) == 3
    table = pq.read_table(spy / "part-0.parquet")
    assert table.schema.equals(STREAMING_SCHEMA)
    option = next(r for r in table.to_pylist() if r["conid"] == 2)
    assert (
        option["ask"] is None
        and option["last"] is None
        and option["delta"] == -1.0
        and option["right"] == "C"
    )


def test_window_handles_half_days_holidays_and_weekends() -> None:
    assert duration_now(datetime(2026, 11, 20, 9, 35, tzinfo=ET)) == 6 * 3600 + 40 * 60  # 16:15
    assert duration_now(datetime(2026, 11, 27, 9, 35, tzinfo=ET)) == 3 * 3600 + 40 * 60  # 13:15
    assert duration_now(datetime(2026, 11, 26, 9, 35, tzinfo=ET)) is None
    assert duration_now(datetime(2026, 11, 20, 17, 0, tzinfo=ET)) == 0
    w = next_window(datetime(2026, 11, 20, 17, 0, tzinfo=ET), "09:35")
    assert (w.trade_date, w.start.hour, w.start.minute) == (date(2026, 11, 23), 9, 35)
    w = next_window(datetime(2026, 11, 25, 18, 0, tzinfo=ET), "09:35")  # skips Thanksgiving
    assert w.trade_date == date(2026, 11, 27) and w.end - w.start == timedelta(hours=3, minutes=40)


def test_duration_script_exit_codes() -> None:
    script = Path("scripts/ops/streaming_duration.py")
    ok = subprocess.run(
        [sys.executable, str(script), "--now", "2026-11-20T16:00:00-05:00"],
        capture_output=True,
        text=True,
    )
    assert (ok.returncode, ok.stdout.strip()) == (0, "900")
    holiday = subprocess.run(
        [sys.executable, str(script), "--now", "2026-11-26T10:00:00-05:00"],
        capture_output=True,
        text=True,
    )
    assert (holiday.returncode, holiday.stdout.strip()) == (1, "0")
    bad = subprocess.run(
        [sys.executable, str(script), "--now", "2026-11-26T10:00:00"],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "UTC offset" in bad.stderr
