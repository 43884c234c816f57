"""The tools over a store whose intraday slot files `opt-data compact` merged.

The store is compacted by the collector's own code (collector.ops.maintenance.compaction), then one
real stdio session answers: per-slot reads come from compacted.parquet filtered to the
slot, the issue scan sees compacted slots as present, latest-slot defaults still work.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from collector.ops.maintenance.compaction import compact_week
from scripts.bench.synthetic_store import Shape, build_store
from shared.calendar import get_session, session_slots
from shared.config import load_config
from shared.storage import COMPACTED_FILE, Layout
from tests.support.clock import STORE_END
from tests.support.mcp_client import McpSession, records, server_params

SYMBOLS = ["AAPL", "MSFT", "SPY"]
UNRECORDED = "MSFT"  # newest day: ledger rows removed, only the compacted file knows its slots
CORRUPT = "SPY"  # newest day: compacted.parquet overwritten with junk
RECOLLECTED = ("AAPL", "10:00")  # older day: a slot file written again after compaction
SAMPLE_COLUMNS = ["conid", "sample_time", "strike", "right", "iv", "bid", "ask", "slot"]


@dataclass(frozen=True)
class Compacted:
    config: Path
    layout: Layout
    days: list[date]
    slots: list[str]
    before: dict[tuple[date, str, str], pl.DataFrame]  # slot files as they were


def ledger_days(layout: Layout) -> list[date]:
    con = sqlite3.connect(f"file:{layout.ledger}?mode=ro", uri=True)
    try:
        rows = con.execute("SELECT DISTINCT trade_date FROM partitions WHERE view='intraday'")
        return sorted(date.fromisoformat(r[0]) for r in rows)
    finally:
        con.close()


@pytest.fixture(scope="module")
def compacted(tmp_path_factory: pytest.TempPathFactory) -> Compacted:
    root = tmp_path_factory.mktemp("compacted")
    config = build_store(
        root, sessions=2, symbols=SYMBOLS, shape=Shape(expiries=2, strikes=4), end=STORE_END
    )
    cfg = load_config(config)
    layout = Layout.from_config(cfg)
    days = ledger_days(layout)
    session = get_session(days[-1])
    assert session is not None
    slots = session_slots(session)
    before = {
        (day, sym, slot): pl.read_parquet(layout.chain_file("intraday", day, sym, slot))
        for day in days
        for sym in SYMBOLS
        for slot in slots
    }
    for week in sorted({d.isocalendar()[:2] for d in days}):
        monday = date.fromisocalendar(week[0], week[1], 1)
        report = compact_week(
            layout,
            monday,
            today=days[-1],
            same_day=True,
            compression_level=cfg.storage.compression_level,
        )
        in_week = [d for d in days if d.isocalendar()[:2] == week]
        assert report.rows == sum(f.height for (d, _, _), f in before.items() if d in in_week)
    for day in days:
        for sym in SYMBOLS:
            assert not list(layout.underlying_dir("intraday", day, sym).glob("slot=*"))
    newest, older = days[-1], days[0]
    layout.compacted_file("intraday", newest, CORRUPT).write_bytes(b"PAR1 not a parquet file")
    sym, slot = RECOLLECTED
    again = layout.chain_file("intraday", older, sym, slot)
    before[(older, sym, slot)].head(3).write_parquet(again)
    con = sqlite3.connect(layout.ledger)
    with con:
        con.execute(
            "DELETE FROM partitions WHERE view='intraday' AND trade_date=? AND underlying=?",
            (newest.isoformat(), UNRECORDED),
        )
        con.execute(  # as the collector records a re-collected slot
            "UPDATE partitions SET path=?, rows=3, bytes=? WHERE view='intraday' AND trade_date=? "
            "AND underlying=? AND slot=?",
            (str(again), again.stat().st_size, older.isoformat(), sym, slot),
        )
    con.close()
    return Compacted(config, layout, days, slots, before)


@pytest.fixture(scope="module")
def mcp(compacted: Compacted, session_factory: Any) -> McpSession:
    return session_factory(server_params(compacted.config, "--allow-raw"))


def sample(mcp: McpSession, sym: str, day: date, slot: str | None) -> dict[str, Any]:
    args = {"symbol": sym, "date": day.isoformat(), "view": "intraday",
            "fields": SAMPLE_COLUMNS, "limit": 1000} | ({"slot": slot} if slot else {})  # fmt: skip
    return mcp.ok("get_chain_sample", args)


def test_a_compacted_slot_reads_exactly_its_rows(mcp: McpSession, compacted: Compacted) -> None:
    older = compacted.days[0]
    for slot in (compacted.slots[0], compacted.slots[5], compacted.slots[-1]):
        got = sample(mcp, "MSFT", older, slot)
        want = compacted.before[(older, "MSFT", slot)]
        assert got["partition"]["slot"] == slot
        assert got["meta"]["file_rows"] == want.height
        assert {r["slot"] for r in records(got)} == {slot}
        assert [(r["conid"], r["strike"], r["right"]) for r in records(got)] == list(
            zip(want["conid"], want["strike"], want["right"], strict=True)
        )
        assert [r["bid"] for r in records(got)] == [round(b, 6) for b in want["bid"]]
        source = f"view=intraday/date={older}/underlying=MSFT/{COMPACTED_FILE} (slot == '{slot}')"
        assert got["meta"]["source"][0].endswith(source)


def test_a_slot_file_written_after_compaction_wins(mcp: McpSession, compacted: Compacted) -> None:
    sym, slot = RECOLLECTED
    got = sample(mcp, sym, compacted.days[0], slot)
    assert got["meta"]["file_rows"] == 3
    assert got["meta"]["source"][0].endswith(
        f"underlying={sym}/slot={slot.replace(':', '')}.parquet"
    )


def test_latest_slot_comes_from_the_compacted_file(mcp: McpSession, compacted: Compacted) -> None:
    newest = compacted.days[-1]
    for sym in ("AAPL", UNRECORDED):  # ledger row / no ledger row: compacted file's slot column
        got = sample(mcp, sym, newest, None)
        assert got["partition"]["slot"] == compacted.slots[-1]
        assert (
            got["meta"]["file_rows"] == compacted.before[(newest, sym, compacted.slots[-1])].height
        )


def test_analysis_and_change_read_compacted_slots(mcp: McpSession, compacted: Compacted) -> None:
    older = compacted.days[0].isoformat()
    smile = mcp.ok("get_iv_smile", {"symbol": "MSFT", "date": older, "view": "intraday"})
    assert smile["points"]["rows"] and smile["spot"] > 0
    a, b = compacted.slots[-2], compacted.slots[-1]
    change = mcp.ok("get_chain_change", {"symbol": "MSFT", "view": "intraday", "to_date": older,
                                         "to_slot": b})  # fmt: skip
    assert (change["from"]["slot"], change["to"]["slot"]) == (a, b)
    assert (
        len(change["contracts"]["rows"]) == compacted.before[(compacted.days[0], "MSFT", b)].height
    )


def test_a_corrupt_compacted_file_is_an_error(mcp: McpSession, compacted: Compacted) -> None:
    text = mcp.error("get_chain_sample", {"symbol": CORRUPT, "date": compacted.days[-1].isoformat(),
                                          "view": "intraday", "slot": compacted.slots[0]})  # fmt: skip
    assert COMPACTED_FILE in text and "unreadable" in text


def test_partition_issues_of_compacted_days(mcp: McpSession, compacted: Compacted) -> None:
    r = mcp.ok("get_partition_issues", {"days": 4, "view": "intraday", "limit": 2000})
    ours = {d.isoformat() for d in compacted.days}
    issues = [i for i in records(r["issues"]) if i["date"] in ours]
    kinds = {(i["date"], i["underlying"], i["kind"]) for i in issues}
    assert not [i for i in issues if i["kind"] in ("missing", "ledger_file_missing",
                                                   "size_mismatch", "duplicates")]  # fmt: skip
    older, newest = (d.isoformat() for d in compacted.days)
    assert kinds == {(newest, CORRUPT, "corrupt"), (newest, UNRECORDED, "unrecorded_file")}
    corrupt = next(i for i in issues if i["kind"] == "corrupt")
    assert corrupt["slot"] is None and COMPACTED_FILE in corrupt["detail"]
    unrecorded = [i["slot"] for i in issues if i["kind"] == "unrecorded_file"]
    assert sorted(unrecorded) == compacted.slots
    checked = {c["date"]: c for c in r["checked"]}
    n = len(compacted.slots)
    assert (checked[older]["files"], checked[older]["compacted_files"]) == (3 * n, 3)
    assert (checked[newest]["files"], checked[newest]["compacted_files"]) == (2 * n, 3)


def test_health_after_compaction(mcp: McpSession, compacted: Compacted) -> None:
    h = mcp.ok("health_overview")
    newest = compacted.days[-1].isoformat()
    last = h["freshness"]["intraday"]["last"]
    assert (last["date"], last["slot"]) == (newest, compacted.slots[-1])
