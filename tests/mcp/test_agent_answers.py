"""Answers an agent gets over stdio, checked from outside: DuckDB over the Parquet files.

Each test asks what an agent would ask and recomputes the answer with DuckDB straight from
the partition files (not through shared.queries), or checks that an answer which cannot
be given says so instead of looking like a value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from shared.calendar import ET
from tests.support.clock import STORE_END
from tests.support.mcp_client import McpSession, records, server_params

DAY = STORE_END.isoformat()


@pytest.fixture(scope="module")
def mcp(store: Path, session_factory: Callable[..., McpSession]) -> McpSession:
    return session_factory(server_params(store, "--allow-raw"))


def clean_file(store: Path, symbol: str, day: str = DAY) -> str:
    """`store` is the store's config file, config/opt-data.toml under its root."""
    return str(
        store.parent.parent
        / f"data/clean/ib/chain/view=daily_clean/date={day}/underlying={symbol}/part.parquet"
    )


def text_of(mcp: McpSession, tool: str, args: dict[str, Any]) -> str:
    result = mcp.run(lambda c: c.call_tool(tool, args))
    assert not result.is_error, result.content
    return "".join(getattr(b, "text", "") for b in result.content)


def test_model_values_are_sent_rounded_like_every_other_float(mcp: McpSession, store: Path) -> None:
    """iv, delta and gamma are stored as float32; rounded in float32 and widened they came
    out as 0.34988200664520264 (17 digits of noise, twice the tokens of 0.349882)."""
    args = {"symbol": "AAPL", "date": DAY, "fields": ["conid", "iv", "delta", "gamma"]}
    text = text_of(mcp, "get_chain_sample", args)
    decimals = [len(m) for m in re.findall(r"\d\.(\d+)", text)]
    assert decimals and max(decimals) <= 6, text[:300]
    surface = text_of(mcp, "get_vol_surface", {"symbol": "AAPL", "date": DAY})
    assert max(len(m) for m in re.findall(r"\d\.(\d+)", surface)) <= 6, surface[:300]
    got = {r[0]: r[1:] for r in json.loads(text)["rows"]}
    want = duckdb.sql(
        "SELECT conid, round(iv::DOUBLE, 6), round(delta::DOUBLE, 6), round(gamma::DOUBLE, 6) "
        f"FROM '{clean_file(store, 'AAPL')}'"
    ).fetchall()
    assert len(want) == len(got) > 0
    for conid, *values in want:
        assert got[conid] == pytest.approx(values, abs=1e-6)


def test_an_explicit_from_date_reads_more_than_the_default_20_sessions(mcp: McpSession) -> None:
    """from_date set: the range asked for is read (up to 260 sessions), not its last 20."""
    out = mcp.ok(
        "get_vol_timeseries", {"symbol": "AAPL", "from_date": "2026-09-01", "to_date": DAY}
    )
    assert out["meta"]["resolved"]["from_date"] == "2026-09-01"
    assert not any("kept the latest" in n for n in out["meta"].get("notes", []))
    assert out["meta"]["truncated"] is False
    assert [r[0] for r in out["series"]["rows"]] == ["2026-11-18", "2026-11-19", DAY]


def test_total_gex_matches_duckdb_and_is_null_without_open_interest(
    mcp: McpSession, store: Path
) -> None:
    out = mcp.ok("get_vol_timeseries", {"symbol": "AAPL", "from_date": DAY, "to_date": DAY})
    row = records(out["series"])[0]
    (want,) = duckdb.sql(
        "WITH s AS (SELECT median(und_price) AS spot FROM '{f}') "
        "SELECT sum(CASE WHEN \"right\" = 'C' THEN 1 ELSE -1 END * gamma::DOUBLE "
        "* open_interest * coalesce(multiplier, 100) * spot * spot * 0.01) "
        "FROM '{f}', s".format(f=clean_file(store, "AAPL"))
    ).fetchall()[0]
    assert row["total_gex"] == pytest.approx(want, rel=1e-9)
    # an intraday snapshot carries no open interest (enrichment adds it to daily_clean)
    raw = mcp.ok(
        "get_vol_timeseries",
        {"symbol": "AAPL", "view": "intraday", "from_date": DAY, "to_date": DAY},
    )
    raw_row = records(raw["series"])[0]
    assert raw_row["pc_oi_ratio"] is None
    assert raw_row["total_gex"] is None, "no open interest: GEX is unknown, not 0"
    assert any("total_gex" in n and "open interest" in n for n in raw["meta"]["notes"])


def test_list_sessions_of_an_unknown_symbol_names_the_stored_ones(mcp: McpSession) -> None:
    for tool in ("list_sessions", "get_vol_timeseries"):
        message = mcp.error(tool, {"symbol": "AAPLL"})
        assert "no daily_clean data for AAPLL" in message and "did you mean AAPL" in message
    # a stored symbol with nothing in the range asked is an empty answer, not an error
    out = mcp.ok("list_sessions", {"symbol": "AAPL", "start": "2026-01-05", "end": "2026-01-09"})
    assert out["sessions"]["rows"] == []


def test_strikes_kept_nearest_spot_are_said_in_the_notes(mcp: McpSession, store: Path) -> None:
    """A smile or GEX table cut to the strikes nearest spot has no cursor to continue with;
    the note says how many were kept and how to get the rest."""
    for tool in ("get_iv_smile", "get_oi_gamma_by_strike"):
        out = mcp.ok(tool, {"symbol": "AAPL", "date": DAY, "limit": 3})
        meta = out["meta"]
        assert meta["truncated"] is True and "next_cursor" not in meta
        assert any("nearest spot" in n and "limit" in n for n in meta["notes"]), meta
    (strikes,) = duckdb.sql(
        f"SELECT count(DISTINCT strike) FROM '{clean_file(store, 'AAPL')}'"
    ).fetchall()[0]
    assert (
        mcp.ok("get_oi_gamma_by_strike", {"symbol": "AAPL", "date": DAY})["meta"]["total_available"]
        == strikes
    )


def test_a_contract_stored_twice_is_counted_once(mcp: McpSession, store: Path) -> None:
    """The store plants 3 repeated rows in MSFT's daily_clean (get_partition_issues reports
    them as duplicates); sums and ratios count each contract once and say so."""
    f = clean_file(store, "MSFT")
    (rows, contracts) = duckdb.sql(f"SELECT count(*), count(DISTINCT conid) FROM '{f}'").fetchall()[
        0
    ]
    assert rows == contracts + 3
    cv, pv, coi, poi = duckdb.sql(
        "SELECT sum(volume) FILTER (WHERE \"right\" = 'C'), sum(volume) FILTER (WHERE \"right\" = 'P'), "
        "sum(open_interest) FILTER (WHERE \"right\" = 'C'), "
        "sum(open_interest) FILTER (WHERE \"right\" = 'P') "
        f"FROM (SELECT DISTINCT ON (conid) * FROM '{f}')"
    ).fetchall()[0]
    out = mcp.ok("get_put_call_ratios", {"symbol": "MSFT", "date": DAY, "by_expiry": False})
    total = out["total"]
    assert (total["call_volume"], total["put_volume"]) == (cv, pv)
    assert (total["call_open_interest"], total["put_open_interest"]) == (coi, poi)
    assert total["pc_oi_ratio"] == pytest.approx(poi / coi, abs=1e-6)
    assert any("3 repeated rows" in n for n in out["meta"]["notes"]), out["meta"]
    gex = mcp.ok("get_oi_gamma_by_strike", {"symbol": "MSFT", "date": DAY})["summary"]
    assert (gex["total_call_oi"], gex["total_put_oi"]) == (coi, poi)
    series = mcp.ok("get_vol_timeseries", {"symbol": "MSFT", "from_date": DAY, "to_date": DAY})
    assert records(series["series"])[0]["pc_oi_ratio"] == pytest.approx(poi / coi, abs=1e-6)
    assert any("3 repeated rows" in n for n in series["meta"]["notes"])
    change = mcp.ok(
        "get_chain_change", {"symbol": "MSFT", "to_date": DAY, "fields": ["mid"], "limit": 500}
    )
    conids = [r[0] for r in change["contracts"]["rows"]]
    assert len(conids) == len(set(conids)) == change["meta"]["total_rows"]
    assert any("3 repeated rows" in n for n in change["meta"]["notes"])


def test_filters_matching_no_row_say_what_the_partition_holds(mcp: McpSession, store: Path) -> None:
    """An expired expiry or a wrong class gave an empty table and no hint; the note names
    what is stored, so the next call can be right."""
    expiries, lo, hi = duckdb.sql(
        "SELECT list(DISTINCT expiry ORDER BY expiry), min(strike), max(strike) "
        f"FROM '{clean_file(store, 'AAPL')}'"
    ).fetchall()[0]
    for args in ({"expiry": "2026-11-13"}, {"trading_class": "AAPLW"}, {"strike_min": 9000}):
        out = mcp.ok("get_chain_sample", {"symbol": "AAPL", "date": DAY, **args})
        assert out["rows"] == [] and out["meta"]["matching_rows"] == 0
        (note,) = [n for n in out["meta"].get("notes", []) if "no row matches" in n]
        assert all(e.isoformat() in note for e in expiries), note
        assert f"strikes {lo:g}-{hi:g}" in note and "classes AAPL" in note


def test_units_and_time_zones_are_stated_where_an_agent_reads_first(mcp: McpSession) -> None:
    """No description said whether iv 0.34 is 34% or 0.34%; the server's instructions (sent
    with `initialize`) and the contract resource now state the units and clocks."""
    text = mcp.client.instructions or ""
    for words in ("0.25 = 25%", "dollars per 1% move", "ET", "UTC"):
        assert words in text, words
    tools = [t.name for t in mcp.run(lambda c: c.list_tools()).tools]
    assert [t for t in tools if t not in text] == [], "every tool is named in the instructions"
    contract = mcp.run(lambda c: c.read_resource("opt-data://contract"))
    units = json.loads(contract.contents[0].text)["units"]
    assert units["iv"].startswith("annualized") and "0.25 = 25%" in units["iv"]


def test_asking_for_today_before_the_close_says_when_it_is_written(
    store: Path, session_factory: Callable[..., McpSession]
) -> None:
    """Monday 11:00 ET: today's daily_clean and close do not exist yet; the error says when
    they will, beside the nearest stored date."""
    monday = session_factory(
        server_params(store, "--allow-raw", now=datetime(2026, 11, 23, 11, 0, tzinfo=ET))
    )
    for view in ("daily_clean", "close"):
        message = monday.error(
            "get_chain_sample", {"symbol": "AAPL", "date": "today", "view": view}
        )
        assert f"no {view} partition for AAPL on 2026-11-23" in message and DAY in message
        assert "session is open until 16:00 ET" in message, message
    # an intraday slot not yet due is not said to be coming later for a past day
    past = monday.error("get_chain_sample", {"symbol": "AAPL", "date": "2026-11-17"})
    assert "session is open" not in past


def test_the_limits_resource_lists_every_cap(mcp: McpSession) -> None:
    """The resource said nothing of get_vol_timeseries' and run_sql's caps or the reply
    budget; each is checked against what a clamped call reports."""
    text = mcp.run(lambda c: c.read_resource("opt-data://limits")).contents[0].text
    limits = json.loads(text)["limits"]
    assert limits["get_vol_timeseries.sessions"] == "default 20, clamped to 1-260"
    assert limits["get_vol_timeseries.limit"] == "default 500, clamped to 1-5000"
    assert limits["run_sql.limit"] == "default 200, clamped to 1-5000"
    assert limits["run_sql.max_sql_chars"] == 8000
    assert limits["reply_table_bytes"] < limits["reply_max_bytes"]
    clamped = mcp.ok("run_sql", {"sql": "SELECT 1", "limit": 10**6})["meta"]
    assert clamped["limit"] == 5000 and clamped["clamped"] is True
    series = mcp.ok("get_vol_timeseries", {"symbol": "AAPL", "sessions": 999})["meta"]
    assert series["sessions"] == 260
