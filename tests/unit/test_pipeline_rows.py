"""Sentinel cleaning and row building: IB's 'not computed' values never become numbers."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime

import pytest

from collector.ib.types import Greeks, OptionContract, QuoteSnapshot
from collector.pipeline.rows import RowContext, build_row, fill_stats, rows_to_table
from collector.pipeline.sentinels import clean_model_value, clean_price
from shared import schema as S

DBL_MAX = 1.7976931348623157e308
CONTRACT = OptionContract(
    501,
    "AAPL",
    date(2026, 12, 18),
    230.0,
    "C",
    100,
    "SMART",
    "USD",
    "AAPL  261218C00230000",
    "AAPL",
    265598,
)
CTX = RowContext(
    date(2026, 11, 18),
    "11:00",
    datetime(2026, 11, 18, 16, 0, tzinfo=UTC),
    "ing-1",
    "AAPL",
    265598,
    231.5,
)


def quote(model: Greeks | None, **kw: float) -> QuoteSnapshot:
    base = dict(
        bid=5.0,
        ask=5.2,
        last=5.1,
        bid_size=10.0,
        ask_size=12.0,
        last_size=1.0,
        volume=100.0,
        close=4.9,
        call_open_interest=1234.0,
        put_open_interest=math.nan,
    )
    mdt = int(kw.pop("mdt", 1))
    base.update(kw)
    return QuoteSnapshot(
        conid=501,
        received_at=datetime(2026, 11, 20, 15, 0, tzinfo=UTC),
        market_data_type=mdt,
        model=model,
        **base,
    )  # type: ignore[arg-type]


GOOD = Greeks(0.25, 0.55, 0.03, 0.2, -0.05, 5.1, 0.0, 231.5)


@pytest.mark.parametrize("name", ["iv", "model_price", "pv_dividend", "und_price"])
@pytest.mark.parametrize("bad", [-1.0, math.nan, DBL_MAX, math.inf, None])
def test_price_like_sentinels_become_none(name: str, bad: float | None) -> None:
    assert clean_model_value(name, bad) is None


@pytest.mark.parametrize("name", ["delta", "gamma", "vega", "theta"])
@pytest.mark.parametrize("bad", [-2.0, math.nan, DBL_MAX, -DBL_MAX, None])
def test_greek_sentinels_become_none(name: str, bad: float | None) -> None:
    assert clean_model_value(name, bad) is None


def test_real_values_survive() -> None:
    assert clean_model_value("delta", -1.0) == -1.0  # deep in-the-money put
    assert clean_model_value("theta", -1.0) == -1.0
    assert clean_model_value("iv", 0.0) == 0.0
    assert clean_price(-1.0) is None and clean_price(0.05) == 0.05


def test_complete_row_has_values_and_no_flags() -> None:
    row = build_row(CONTRACT, quote(GOOD), CTX)
    assert row["iv"] == 0.25 and row["theta"] == -0.05 and row["mid"] == pytest.approx(5.1)
    assert row["open_interest"] == 1234
    assert row["data_quality_flags"] == [] and row["missing_reason"] is None


def test_library_passthrough_sentinels_are_flagged() -> None:
    # ib_async maps iv -1 -> None but passes vega/theta -2 through as -2.0.
    sentinel = Greeks(None, None, None, -2.0, -2.0, None, None, None)
    row = build_row(CONTRACT, quote(sentinel), CTX)
    for name in ("iv", "delta", "gamma", "vega", "theta", "model_price", "und_price"):
        assert row[name] is None
    assert S.FLAG_GREEKS_SENTINEL in row["data_quality_flags"]
    assert S.FLAG_MISSING_GREEKS in row["data_quality_flags"]


def test_no_quote_crossed_delayed_timeout_flags() -> None:
    no_bid = build_row(CONTRACT, quote(GOOD, bid=-1.0, bid_size=0.0), CTX)
    assert no_bid["bid"] is None and no_bid["mid"] is None
    assert S.FLAG_MISSING_QUOTE in no_bid["data_quality_flags"]
    crossed = build_row(CONTRACT, quote(GOOD, bid=5.5, ask=5.0), CTX)
    assert S.FLAG_CROSSED in crossed["data_quality_flags"] and crossed["mid"] is None
    delayed = build_row(CONTRACT, quote(GOOD, mdt=3), CTX, timed_out=True)
    assert delayed["market_data_type"] == 3
    assert {S.FLAG_DELAYED, S.FLAG_TIMEOUT} <= set(delayed["data_quality_flags"])
    missing = build_row(CONTRACT, None, CTX, no_permission=True)
    assert missing["missing_reason"] == S.FLAG_NO_PERMISSION and missing["bid"] is None


def test_table_matches_schema_and_fill_stats() -> None:
    rows = [build_row(CONTRACT, quote(GOOD), CTX), build_row(CONTRACT, None, CTX)]
    table = rows_to_table(rows)
    assert table.schema == S.SNAPSHOT_SCHEMA
    stats = fill_stats(table)
    assert (stats.rows, stats.quote_fill, stats.greeks_fill, stats.delayed_rows) == (2, 0.5, 0.5, 0)
