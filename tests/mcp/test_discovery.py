"""Discovery, relative dates, "nearest that exists" errors and history bars, over stdio.

The store (tests/mcp/conftest.py) holds the sessions 2026-11-18, -19 and -20 of four
underlyings. Two servers read it: one pinned on Saturday 2026-11-21 10:00 ET (the suite's
SERVER_NOW, so 'yesterday', 'last_session', '-1' and 'friday' all mean 2026-11-20), one on
Monday 2026-11-30 08:00 ET, the Monday after Thanksgiving (closed, Thursday 11-26) and its
half day (Friday 11-27, 13:00 close), neither of which the store holds.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from shared.calendar import ET
from shared.config import load_config
from shared.storage import Layout
from tests.support.clock import STORE_END
from tests.support.mcp_client import SYMBOLS, McpSession, records, server_params

DAYS = ["2026-11-18", "2026-11-19", "2026-11-20"]
MONDAY_AFTER_THANKSGIVING = datetime(2026, 11, 30, 8, 0, tzinfo=ET)


@pytest.fixture(scope="module")
def mcp(store: Path, tmp_path_factory: pytest.TempPathFactory, session_factory: Any) -> McpSession:
    audit = tmp_path_factory.mktemp("audit-discovery") / "audit.db"
    return session_factory(server_params(store, "--allow-raw", "--audit-db", str(audit)))


@pytest.fixture(scope="module")
def monday(
    store: Path, tmp_path_factory: pytest.TempPathFactory, session_factory: Any
) -> McpSession:
    audit = tmp_path_factory.mktemp("audit-monday") / "audit.db"
    params = server_params(store, "--audit-db", str(audit), now=MONDAY_AFTER_THANKSGIVING)
    return session_factory(params)


@pytest.fixture(scope="module")
def layout(store: Path) -> Layout:
    return Layout.from_config(load_config(store))


def test_list_underlyings_gives_each_symbol_its_date_range(mcp: McpSession) -> None:
    r = mcp.ok("list_underlyings")
    rows = records(r["underlyings"])
    assert r["underlyings_stored"] == len(SYMBOLS)
    assert {(x["underlying"], x["view"]) for x in rows} == {
        (s, v) for s in SYMBOLS for v in ("intraday", "close", "daily_clean")
    }
    for x in rows:
        assert (x["first_date"], x["last_date"], x["sessions"]) == (DAYS[0], DAYS[-1], 3)
    only = mcp.ok("list_underlyings", {"view": "daily_clean", "limit": 2})
    assert len(only["underlyings"]["rows"]) == 2 and only["meta"]["truncated"] is True
    rest = mcp.ok(
        "list_underlyings",
        {"view": "daily_clean", "limit": 2, "cursor": only["meta"]["next_cursor"]},
    )
    names = [x["underlying"] for x in records(only["underlyings"]) + records(rest["underlyings"])]
    assert names == sorted(SYMBOLS) and rest["meta"]["truncated"] is False


def test_list_sessions_gives_dates_and_slots_of_a_view(mcp: McpSession) -> None:
    r = mcp.ok("list_sessions", {"view": "intraday"})
    days = records(r["sessions"])
    assert [d["date"] for d in days] == DAYS[::-1]
    full = [f"{h:02d}:{m:02d}" for h in range(9, 16) for m in (0, 30) if (h, m) >= (9, 30)] + [
        "16:00"
    ]
    assert days[0]["slots"] == full and days[0]["early_close"] is False
    # the planted fault: AAPL's 10:00 slot of the newest day was never written
    assert days[0]["partitions"] == len(SYMBOLS) * len(full) - 1
    assert r["missing_sessions"] == []
    clean = mcp.ok("list_sessions", {"symbol": "msft"})
    assert clean["view"] == "daily_clean" and records(clean["sessions"])[0]["slots"] == []
    window = mcp.ok("list_sessions", {"view": "close", "start": "-2", "end": "yesterday"})
    assert [d["date"] for d in records(window["sessions"])] == ["2026-11-20", "2026-11-19"]
    assert window["meta"]["resolved"] == {
        "view": "close",
        "start": "2026-11-19",
        "end": "2026-11-20",
    }


def test_list_expiries_gives_strike_ranges(mcp: McpSession, layout: Layout) -> None:
    r = mcp.ok("list_expiries", {"symbol": "AAPL", "date": "yesterday"})
    assert r["meta"]["resolved"] == {"date": "2026-11-20"}
    df = pl.read_parquet(layout.chain_file("daily_clean", STORE_END, "AAPL"))
    rows = records(r["expiries"])
    assert [x["expiry"] for x in rows] == sorted(e.isoformat() for e in df["expiry"].unique())
    for x in rows:
        sub = df.filter(pl.col("expiry") == date.fromisoformat(x["expiry"]))
        assert (x["strike_min"], x["strike_max"]) == (sub["strike"].min(), sub["strike"].max())
        assert x["strikes"] == sub["strike"].n_unique() and x["calls"] == x["puts"] == x["strikes"]
        assert x["dte"] == (date.fromisoformat(x["expiry"]) - STORE_END).days
    assert r["contracts"] == df.height


@pytest.mark.parametrize(
    ("word", "want"),
    [("yesterday", "2026-11-20"), ("last_session", "2026-11-20"), ("-1", "2026-11-20"),
     ("friday", "2026-11-20"), ("-2", "2026-11-19"), ("Wednesday", "2026-11-18"), ("2026-11-19", "2026-11-19")],
)  # fmt: skip
def test_relative_dates_resolve_and_meta_says_to_what(
    mcp: McpSession, word: str, want: str
) -> None:
    r = mcp.ok("get_chain_sample", {"symbol": "SPY", "date": word, "limit": 1})
    assert r["partition"]["date"] == want and r["meta"]["resolved"]["date"] == want
    raw = mcp.ok(
        "get_iv_smile", {"symbol": "SPY", "date": word, "view": "intraday", "slot": "10:00"}
    )
    assert raw["meta"]["resolved"] == {"date": want, "slot": "10:00"}


def test_chain_change_accepts_relative_dates_at_both_ends(mcp: McpSession) -> None:
    r = mcp.ok(
        "get_chain_change",
        {"symbol": "QQQ", "from_date": "wednesday", "to_date": "last_session", "limit": 1},
    )
    assert (r["from"]["date"], r["to"]["date"]) == ("2026-11-18", "2026-11-20")
    assert r["meta"]["resolved"] == {"to_date": "2026-11-20", "from_date": "2026-11-18"}


def test_errors_name_what_exists(mcp: McpSession) -> None:
    text = mcp.error("get_chain_sample", {"symbol": "QQQQ"})
    assert "no daily_clean data for QQQQ" in text and "did you mean QQQ" in text
    assert "AAPL, MSFT, QQQ, SPY" in text and "list_underlyings" in text
    weekend = mcp.error("get_chain_sample", {"symbol": "AAPL", "date": "today"})
    assert "2026-11-21 (a Saturday: no session)" in weekend and "2026-11-20" in weekend
    old = mcp.error("get_chain_sample", {"symbol": "AAPL", "date": "2026-11-02"})
    assert "nearest dates with data: 2026-11-18" in old
    slot = mcp.error(
        "get_chain_sample",
        {"symbol": "AAPL", "view": "intraday", "date": "2026-11-20", "slot": "10:00"},
    )
    assert "no intraday slot 10:00 for AAPL on 2026-11-20" in slot
    assert "slots present: 09:30, 10:30, 11:00, ..., 15:00, 15:30, 16:00 (13 slots)" in slot
    for error in (text, weekend, old, slot):
        assert "\n" not in error and len(error) <= 400


def test_holidays_and_half_days_are_named(monday: McpSession) -> None:
    holiday = monday.error("get_chain_sample", {"symbol": "AAPL", "date": "2026-11-26"})
    assert "2026-11-26 (a Thursday, an XNYS holiday: no session)" in holiday
    assert "nearest dates with data: 2026-11-20" in holiday
    half = monday.error("get_chain_sample", {"symbol": "AAPL", "date": "yesterday"})
    assert "2026-11-27 (an early close at 13:00 ET)" in half
    assert (
        monday.ok("get_chain_sample", {"symbol": "AAPL", "date": "-5", "limit": 1})["partition"][
            "date"
        ]
        == "2026-11-20"
    )


def test_history_bars(mcp: McpSession, layout: Layout) -> None:
    df = pl.read_parquet(layout.history_file("MSFT"))
    r = mcp.ok("get_history_bars", {"symbol": "MSFT"})
    assert r["bars"]["columns"] == ["bar_date", "open", "high", "low", "close", "volume"]
    bars = records(r["bars"])
    assert [b["bar_date"] for b in bars] == DAYS
    assert [b["close"] for b in bars] == [round(c, 6) for c in df["close"]]
    assert r["stored"] == {"first_date": DAYS[0], "last_date": DAYS[-1], "bars": 3}
    last = mcp.ok(
        "get_history_bars", {"symbol": "MSFT", "start": "-1", "fields": ["bar_date", "wap"]}
    )
    assert records(last["bars"]) == [{"bar_date": "2026-11-20", "wap": round(df["wap"][-1], 6)}]
    assert last["meta"]["resolved"] == {"start": "2026-11-20"}
    latest = mcp.ok("get_history_bars", {"symbol": "MSFT", "limit": 2})
    assert [b["bar_date"] for b in records(latest["bars"])] == DAYS[1:]
    assert "no 1d history bars for ZZZ" in mcp.error("get_history_bars", {"symbol": "ZZZ"})
    assert "unknown field" in mcp.error(
        "get_history_bars", {"symbol": "MSFT", "fields": ["password"]}
    )
