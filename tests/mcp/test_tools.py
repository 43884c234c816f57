"""Every tool over a real stdio session (`python -m mcp_server --allow-raw`), checked against the files."""

from __future__ import annotations

import json
import sqlite3
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from scripts.bench.synthetic_store import FAULTS
from shared.calendar import previous_session
from shared.config import load_config
from shared.storage import Layout
from tests.support.mcp_client import SYMBOLS, McpSession, audit_rows, records, server_params

TOOLS = {
    "list_underlyings", "list_sessions", "list_expiries", "get_history_bars", "health_overview", "run_status_overview", "list_recent_runs", "get_partition_issues", "get_chain_sample",
    "get_iv_smile", "get_atm_term_structure", "get_put_call_ratios", "get_oi_gamma_by_strike", "get_chain_change",
    "get_vol_timeseries", "get_vol_surface", "run_sql",
}  # fmt: skip


@pytest.fixture(scope="module")
def audit_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("audit") / "audit.db"


@pytest.fixture(scope="module")
def mcp(store: Path, audit_db: Path, session_factory: Any) -> McpSession:
    return session_factory(server_params(store, "--allow-raw", "--audit-db", str(audit_db)))


@pytest.fixture(scope="module")
def layout(store: Path) -> Layout:
    return Layout.from_config(load_config(store))


def ledger(layout: Layout, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(f"file:{layout.ledger}?mode=ro", uri=True)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def newest(layout: Layout) -> date:
    return date.fromisoformat(ledger(layout, "SELECT MAX(trade_date) FROM partitions")[0][0])


def frame(layout: Layout, view: str, day: date, sym: str, slot: str | None = None) -> pl.DataFrame:
    return pl.read_parquet(layout.chain_file(view, day, sym, slot))


def test_tools_are_listed_read_only_and_described(mcp: McpSession) -> None:
    tools = mcp.run(lambda c: c.list_tools()).tools
    assert {t.name for t in tools} == TOOLS
    for tool in tools:
        assert tool.annotations is not None and tool.annotations.read_only_hint is True
        assert tool.description and len(tool.description) > 40
        for name, prop in tool.input_schema.get("properties", {}).items():
            assert prop.get("description"), f"{tool.name}.{name} has no description"


def test_health_overview(mcp: McpSession, layout: Layout) -> None:
    h = mcp.ok("health_overview")
    day = newest(layout)
    for view in ("intraday", "close", "daily_clean"):
        assert h["freshness"][view]["last"]["date"] == day.isoformat()
    session_day = h["session"]["date"]
    for view, cov in h["coverage"].items():
        written = ledger(
            layout,
            "SELECT COUNT(*) FROM partitions WHERE view=? AND trade_date=?",
            (view, session_day),
        )
        assert cov["written"] == written[0][0]
    assert h["selfcheck"]["file"] == f"selfcheck_{day:%Y%m%d}.json"
    assert h["selfcheck"]["summary"]["status"] == "PASS"
    assert h["logscan"]["summary"]["by_keyword"]["ERROR"] == 1
    qa = json.loads(layout.metrics_file(day).read_text())
    assert h["qa_metrics"]["date"] == day.isoformat() and h["qa_metrics"]["summary"] == qa
    total = ledger(
        layout,
        "SELECT SUM(bytes) FROM partitions WHERE view='daily_clean' AND trade_date=?",
        (session_day,),
    )[0][0]
    assert h["disk"]["session_bytes_by_view"]["daily_clean"] == (total or 0)
    assert h["disk"]["filesystem"]["total"] > 0


def test_run_status_overview(mcp: McpSession, layout: Layout) -> None:
    r = mcp.ok("run_status_overview")
    assert len(r["days"]) == 3 and r["meta"]["clamped"] is False
    by_date = {d["date"]: d for d in r["days"]}
    last = by_date.get(newest(layout).isoformat())
    assert last is not None and last["status"] == "failed"
    assert last["tasks"]["enrichment"]["last_status"] == "failed"
    assert "oi_enrichment_failed" in last["tasks"]["enrichment"]["last_error"]
    assert last["tasks"]["snapshot"]["ok"] == len(
        ledger(layout, "SELECT 1 FROM runs WHERE task='snapshot' AND trade_date=?", (last["date"],))
    )


def test_list_recent_runs(mcp: McpSession, layout: Layout) -> None:
    r = mcp.ok("list_recent_runs", {"limit": 5})
    runs = records(r["runs"])
    assert r["meta"]["limit"] == 5 and len(runs) == 5 and r["meta"]["truncated"] is True
    starts = [x["started_at"] for x in runs]
    assert starts == sorted(starts, reverse=True)
    failed = records(mcp.ok("list_recent_runs", {"status": "failed"})["runs"])
    assert [x["task"] for x in failed] == ["enrichment"]
    rollups = records(mcp.ok("list_recent_runs", {"task": "rollup", "limit": 200})["runs"])
    assert len(rollups) == ledger(layout, "SELECT COUNT(*) FROM runs WHERE task='rollup'")[0][0]


def test_partition_issues_find_every_planted_fault(mcp: McpSession, layout: Layout) -> None:
    r = mcp.ok("get_partition_issues", {"days": 2})  # today may be a session not yet collected
    day = newest(layout).isoformat()
    issues = records(r["issues"])
    found = {(i["kind"], i["underlying"]) for i in issues if i["date"] == day}
    for kind, index in FAULTS.items():
        assert (kind, SYMBOLS[index]) in found, f"{kind} on {SYMBOLS[index]} not reported"
    assert sum(r["summary"].values()) == len(issues)
    assert {c["view"] for c in r["checked"]} == {"intraday", "close", "daily_clean"}
    only_clean = mcp.ok("get_partition_issues", {"days": 2, "view": "daily_clean", "limit": 2})
    assert only_clean["meta"]["truncated"] is True and len(only_clean["issues"]["rows"]) == 2
    assert {c["view"] for c in only_clean["checked"]} == {"daily_clean"}


def test_chain_sample_reads_the_partition_it_names(mcp: McpSession, layout: Layout) -> None:
    day = newest(layout)
    df = frame(layout, "daily_clean", day, "MSFT")
    expiry = df["expiry"].min()
    r = mcp.ok(
        "get_chain_sample",
        {"symbol": "msft", "expiry": expiry.isoformat(), "right": "P", "limit": 1000},
    )
    want = df.filter((pl.col("expiry") == expiry) & (pl.col("right") == "P"))
    assert [row["conid"] for row in records(r)] == want["conid"].to_list()
    assert r["partition"] == {
        "symbol": "MSFT",
        "view": "daily_clean",
        "date": day.isoformat(),
        "slot": None,
    }
    assert r["meta"]["source"] == [
        f"clean/ib/chain/view=daily_clean/date={day}/underlying=MSFT/part.parquet"
    ]
    slim = mcp.ok("get_chain_sample", {"symbol": "SPY", "view": "intraday", "slot": "10:30", "fields": ["conid", "bid"],
                                       "strike_min": 0, "limit": 3})  # fmt: skip
    assert slim["columns"] == ["conid", "bid"] and len(slim["rows"]) == 3
    assert slim["partition"]["slot"] == "10:30" and slim["meta"]["truncated"] is True
    latest = mcp.ok("get_chain_sample", {"symbol": "AAPL", "view": "intraday", "limit": 1})
    slot = ledger(layout, "SELECT MAX(slot) FROM partitions WHERE view='intraday' AND underlying='AAPL' AND trade_date=?",
                  (day.isoformat(),))[0][0]  # fmt: skip
    assert latest["partition"]["slot"] == slot


def test_iv_smile_matches_the_file(mcp: McpSession, layout: Layout) -> None:
    day = newest(layout)
    df = frame(layout, "daily_clean", day, "AAPL")
    r = mcp.ok("get_iv_smile", {"symbol": "AAPL"})
    assert r["expiry"] == min(e for e in df["expiry"].to_list() if e >= day).isoformat()
    calls = df.filter(
        (pl.col("expiry") == date.fromisoformat(r["expiry"])) & (pl.col("right") == "C")
    )
    want = dict(zip(calls["strike"].to_list(), calls["iv"].to_list(), strict=True))
    points = records(r["points"])
    assert len(points) == len(want)
    for p in points:
        assert p["call_iv"] == pytest.approx(want[p["strike"]], rel=1e-5)
        assert p["otm_iv"] == (p["put_iv"] if p["strike"] < r["spot"] else p["call_iv"])


def test_atm_term_structure(mcp: McpSession, layout: Layout) -> None:
    day = newest(layout)
    df = frame(layout, "daily_clean", day, "QQQ")
    spot = df["und_price"].median()
    r = mcp.ok("get_atm_term_structure", {"symbol": "QQQ", "date": day.isoformat()})
    term = records(r["term_structure"])
    assert len(term) == df["expiry"].n_unique()
    for point in term:
        strikes = (
            df.filter(pl.col("expiry") == date.fromisoformat(point["expiry"]))["strike"]
            .unique()
            .to_list()
        )
        assert point["atm_strike"] == min(strikes, key=lambda k: abs(k - spot))
        assert point["dte"] == (date.fromisoformat(point["expiry"]) - day).days


def test_put_call_ratios(mcp: McpSession, layout: Layout) -> None:
    day = newest(layout)
    df = frame(layout, "daily_clean", day, "SPY")
    r = mcp.ok("get_put_call_ratios", {"symbol": "SPY"})
    put_vol = df.filter(pl.col("right") == "P")["volume"].sum()
    call_vol = df.filter(pl.col("right") == "C")["volume"].sum()
    assert r["total"]["pc_volume_ratio"] == pytest.approx(put_vol / call_vol, rel=1e-5)
    put_oi = df.filter(pl.col("right") == "P")["open_interest"].sum()
    assert r["total"]["put_open_interest"] == put_oi
    assert len(r["by_expiry"]["rows"]) == df["expiry"].n_unique()


def test_oi_gamma_by_strike(mcp: McpSession, layout: Layout) -> None:
    day = newest(layout)
    # MSFT's file repeats 3 rows (the planted duplicates): each contract counts once
    df = frame(layout, "daily_clean", day, "MSFT").unique(
        "conid", keep="first", maintain_order=True
    )
    spot = df["und_price"].median()
    expiry = df["expiry"].min()
    r = mcp.ok(
        "get_oi_gamma_by_strike", {"symbol": "MSFT", "expiry": expiry.isoformat(), "limit": 2000}
    )
    sub = df.filter(pl.col("expiry") == expiry)
    strikes = records(r["strikes"])
    for row in strikes:
        at = sub.filter(pl.col("strike") == row["strike"])
        gex = sum(
            (1 if rt == "C" else -1) * g * oi * 100 * spot * spot * 0.01
            for rt, g, oi in zip(at["right"], at["gamma"], at["open_interest"], strict=True)
        )
        assert row["net_gex"] == pytest.approx(gex, rel=1e-4)
    assert r["summary"]["total_net_gex"] == pytest.approx(
        sum(x["net_gex"] for x in strikes), rel=1e-4
    )
    few = mcp.ok("get_oi_gamma_by_strike", {"symbol": "MSFT", "limit": 3})
    assert len(few["strikes"]["rows"]) == 3 and few["meta"]["truncated"] is True
    nearest = sorted(df["strike"].unique().to_list(), key=lambda k: abs(k - spot))[:3]
    assert [x["strike"] for x in records(few["strikes"])] == sorted(nearest)
    assert few["meta"]["total_available"] == df["strike"].n_unique()


def test_chain_change_between_days_and_slots(mcp: McpSession, layout: Layout) -> None:
    day = newest(layout)
    before = previous_session(day).trade_date
    r = mcp.ok(
        "get_chain_change", {"symbol": "QQQ", "fields": ["mid"], "right": "C", "limit": 1000}
    )
    assert (r["from"]["date"], r["to"]["date"]) == (before.isoformat(), day.isoformat())
    a = frame(layout, "daily_clean", before, "QQQ").select("conid", "mid")
    b = frame(layout, "daily_clean", day, "QQQ").select("conid", "mid")
    want = {c: m2 - m1 for c, m1, m2 in a.join(b, on="conid").iter_rows()}
    contracts = records(r["contracts"])
    assert contracts and all(x["right"] == "C" for x in contracts)
    for x in contracts:
        assert x["mid_change"] == pytest.approx(want[x["conid"]], abs=1e-5)
    slots = mcp.ok(
        "get_chain_change", {"symbol": "SPY", "view": "intraday", "to_slot": "15:00", "limit": 5}
    )
    assert (slots["from"]["slot"], slots["to"]["slot"]) == ("14:30", "15:00")
    assert slots["from"]["date"] == slots["to"]["date"] == day.isoformat()


def test_discovery_and_history_tools_answer(mcp: McpSession, layout: Layout) -> None:
    # their contents are checked in test_discovery.py; here: they answer on this server too
    day = newest(layout).isoformat()
    assert records(mcp.ok("list_underlyings")["underlyings"])[0]["last_date"] == day
    assert records(mcp.ok("list_sessions", {"view": "intraday"})["sessions"])[0]["date"] == day
    assert mcp.ok("list_expiries", {"symbol": "SPY"})["expiries"]["rows"]
    assert records(mcp.ok("get_history_bars", {"symbol": "SPY"})["bars"])[-1]["bar_date"] == day


def test_resources_and_prompt(mcp: McpSession) -> None:
    listed = {str(r.uri) for r in mcp.run(lambda c: c.list_resources()).resources}
    assert {"opt-data://contract", "opt-data://limits"} <= listed
    contract = json.loads(
        mcp.run(lambda c: c.read_resource("opt-data://contract")).contents[0].text
    )
    names = {c["name"] for c in contract["columns"]["daily_clean"]}
    assert {"rollup_strategy", "open_interest", "iv", "conid"} <= names
    limits = json.loads(mcp.run(lambda c: c.read_resource("opt-data://limits")).contents[0].text)
    assert limits["allow_raw"] is True and "intraday" in limits["readable_views"]
    prompt = mcp.run(lambda c: c.get_prompt("daily_health_report", {"date": "2025-01-02"}))
    text = prompt.messages[0].content.text
    assert "2025-01-02" in text and "health_overview" in text and "get_partition_issues" in text


def test_vol_and_sql_tools_on_the_synthetic_store(mcp: McpSession) -> None:
    """Known answers are in test_vol_tools.py / test_sql_tool.py; here: they answer on this store."""
    series = mcp.ok("get_vol_timeseries", {"symbol": "SPY", "sessions": 3})["series"]
    assert len(series["rows"]) == 3 and "atm_iv_30d" in series["columns"]
    surface = mcp.ok("get_vol_surface", {"symbol": "SPY"})
    assert len(surface["iv"]) == len(surface["tenors"]) and surface["how"]
    out = mcp.ok("run_sql", {"sql": "SELECT count(DISTINCT underlying) AS n FROM daily_clean"})
    assert out["rows"] == [[4]]


def test_every_call_is_one_audit_row(mcp: McpSession, audit_db: Path) -> None:
    rows = audit_rows(audit_db)
    assert len(rows) == mcp.calls
    assert {r["status"] for r in rows} == {"ok"}
    assert {r["tool"] for r in rows} == TOOLS
    assert all(r["bytes"] > 0 and r["duration_ms"] >= 0 for r in rows)
    chain = [r for r in rows if r["tool"] == "get_chain_sample"]
    assert json.loads(chain[0]["arguments"])["symbol"] == "msft"
