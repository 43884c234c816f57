"""Rollup strategies and OI application over small tables (pure functions)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyarrow as pa

from collector.pipeline.rollup import apply_open_interest, rollup_table
from shared import schema as S

DAY = date(2026, 11, 18)


def row(conid: int, slot: str, good: bool = True, **kw: Any) -> dict[str, Any]:
    hh, mm = map(int, slot.split(":"))
    base: dict[str, Any] = {
        "trade_date": DAY,
        "slot": slot,
        "sample_time": datetime(2026, 11, 18, hh + 5, mm, tzinfo=UTC),
        "ingest_id": "i",
        "underlying": "AAPL",
        "conid": conid,
        "expiry": DAY + timedelta(days=30),
        "strike": 230.0 + conid,
        "right": "C",
        "bid": 1.0 if good else None,
        "ask": 1.2 if good else None,
        "delayed_fallback": False,
        "data_quality_flags": [] if good else [S.FLAG_MISSING_QUOTE],
    }
    base.update(kw)
    return base


def table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=S.SNAPSHOT_SCHEMA)


def strategies(t: pa.Table) -> dict[int, tuple[str, str]]:
    return {r["conid"]: (r["rollup_strategy"], r["rollup_source_slot"]) for r in t.to_pylist()}


def test_close_then_fallback_slot_then_last_good() -> None:
    close = table([row(1, "16:00"), row(2, "16:00", good=False)])
    intraday = [
        table([row(1, "15:00"), row(2, "15:00"), row(3, "15:00"), row(4, "15:00", good=False)]),
        table([row(2, "15:30"), row(3, "15:30", good=False), row(4, "15:30", good=False)]),
    ]
    out = rollup_table(close, intraday, allow_intraday_fallback=True, fallback_slot="15:30")
    assert out.schema == S.DAILY_CLEAN_SCHEMA
    assert strategies(out) == {
        1: ("close", "16:00"),
        2: ("intraday_fallback", "15:30"),  # close row had no quote
        3: ("last_good", "15:00"),  # 15:30 bad, no close row
        4: ("last_good", "15:30"),  # nothing good: the latest row, still flagged
    }
    got = {r["conid"]: r for r in out.to_pylist()}
    assert got[1]["rollup_source_time"] == datetime(2026, 11, 18, 21, 0, tzinfo=UTC)
    assert all(S.FLAG_MISSING_OI in r["data_quality_flags"] for r in got.values())
    assert len(set(out.column("conid").to_pylist())) == out.num_rows


def test_no_intraday_fallback_uses_close_only() -> None:
    close = table([row(1, "16:00")])
    intraday = [table([row(1, "15:30"), row(2, "15:30")])]
    out = rollup_table(close, intraday, allow_intraday_fallback=False, fallback_slot="15:30")
    assert strategies(out) == {1: ("close", "16:00")}


def test_apply_open_interest_is_idempotent_and_flags_failures() -> None:
    daily = rollup_table(
        table([row(1, "16:00"), row(2, "16:00")]),
        [],
        allow_intraday_fallback=True,
        fallback_slot="15:30",
    )
    once = apply_open_interest(daily, {1: 500}, DAY, {2: 1}, 3)
    twice = apply_open_interest(once, {1: 500}, DAY, {2: 1}, 3)
    assert once.equals(twice)
    got = {r["conid"]: r for r in twice.to_pylist()}
    assert got[1]["open_interest"] == 500 and got[1]["oi_asof_date"] == DAY
    assert S.FLAG_MISSING_OI not in got[1]["data_quality_flags"]
    assert S.FLAG_MISSING_OI in got[2]["data_quality_flags"]
    failed = {r["conid"]: r for r in apply_open_interest(twice, {}, DAY, {2: 3}, 3).to_pylist()}
    assert S.FLAG_OI_ENRICHMENT_FAILED in failed[2]["data_quality_flags"]
    assert failed[1]["open_interest"] == 500  # kept
    # A rerun of the rollup keeps OI that enrichment already filled.
    again = rollup_table(
        table([row(1, "16:00")]),
        [],
        allow_intraday_fallback=True,
        fallback_slot="15:30",
        previous=twice,
    )
    assert again.to_pylist()[0]["open_interest"] == 500


def test_contracts_expiring_on_the_trade_date_get_expired_not_missing_oi() -> None:
    daily = rollup_table(
        table([row(1, "16:00", expiry=DAY), row(2, "16:00")]),
        [],
        allow_intraday_fallback=True,
        fallback_slot="15:30",
    )
    got = {r["conid"]: r for r in apply_open_interest(daily, {2: 10}, DAY, {}, 3).to_pylist()}
    expired = got[1]
    assert expired["open_interest"] is None and expired["missing_reason"] == S.FLAG_EXPIRED
    assert S.FLAG_EXPIRED in expired["data_quality_flags"]
    assert S.FLAG_MISSING_OI not in expired["data_quality_flags"]
    assert got[2]["open_interest"] == 10 and S.FLAG_EXPIRED not in got[2]["data_quality_flags"]
