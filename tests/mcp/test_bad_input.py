"""Bad input over `opt-data mcp-server` (raw views off): clear errors or clamps, each one audit row."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.mcp_client import McpSession, audit_rows, server_params


@pytest.fixture(scope="module")
def audit_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("audit-bad") / "audit.db"


@pytest.fixture(scope="module")
def mcp(store: Path, audit_db: Path, session_factory: Any) -> McpSession:
    return session_factory(server_params(store, "--audit-db", str(audit_db), entry="console"))


@pytest.mark.parametrize(
    ("tool", "args", "cap"),
    [
        ("list_recent_runs", {"limit": -5}, 1),
        ("list_recent_runs", {"limit": 10**9}, 200),
        ("get_partition_issues", {"limit": 0, "view": "daily_clean"}, 1),
        ("get_partition_issues", {"limit": 99999, "view": "daily_clean"}, 2000),
        ("get_chain_sample", {"symbol": "AAPL", "limit": 5000}, 1000),
        ("get_chain_sample", {"symbol": "AAPL", "limit": -1}, 1),
        ("get_iv_smile", {"symbol": "AAPL", "limit": 10**6}, 2000),
    ],
)
def test_limits_are_clamped_and_meta_says_so(
    mcp: McpSession, tool: str, args: dict[str, Any], cap: int
) -> None:
    meta = mcp.ok(tool, args)["meta"]
    assert meta["limit"] == cap and meta["clamped"] is True
    assert meta["requested"]["limit"] == args["limit"]


@pytest.mark.parametrize(("tool", "days", "used"), [("run_status_overview", 99, 14), ("run_status_overview", -2, 1),
                                                   ("get_partition_issues", 400, 14)])  # fmt: skip
def test_days_are_clamped(mcp: McpSession, tool: str, days: int, used: int) -> None:
    r = mcp.ok(
        tool, {"days": days, **({"view": "daily_clean"} if tool == "get_partition_issues" else {})}
    )
    assert r["meta"]["days"] == used and r["meta"]["clamped"] is True
    if tool == "run_status_overview":
        assert len(r["days"]) == used


def test_raw_views_are_refused_without_allow_raw(mcp: McpSession) -> None:
    for tool, args in [
        ("get_chain_sample", {"symbol": "AAPL", "view": "intraday"}),
        ("get_chain_sample", {"symbol": "AAPL", "view": "close", "slot": "16:00"}),
        ("get_partition_issues", {"view": "intraday"}),
        ("get_iv_smile", {"symbol": "AAPL", "view": "close"}),
        ("get_chain_change", {"symbol": "AAPL", "view": "intraday"}),
    ]:
        assert "--allow-raw" in mcp.error(tool, args)
    checked = mcp.ok("get_partition_issues", {"days": 1})["checked"]
    assert {c["view"] for c in checked} == {"daily_clean"}


@pytest.mark.parametrize(
    "symbol", ["../../etc", "AAPL/../../x", "", "A" * 11, "..", "/etc/passwd", "aa pl", "%2e%2e"]
)
def test_path_tricks_in_symbols_are_refused(mcp: McpSession, symbol: str) -> None:
    assert "invalid symbol" in mcp.error("get_chain_sample", {"symbol": symbol})


@pytest.mark.parametrize(
    ("tool", "args", "words"),
    [
        ("get_chain_sample", {"symbol": "AAPL", "date": "2024-13-45"}, "YYYY-MM-DD"),
        ("get_chain_sample", {"symbol": "AAPL", "date": "someday"}, "YYYY-MM-DD"),
        ("get_chain_sample", {"symbol": "AAPL", "date": "2999-01-01"}, "outside"),
        ("get_chain_sample", {"symbol": "AAPL", "date": "2021-01-04"}, "no daily_clean partition"),
        ("get_chain_sample", {"symbol": "ZZZZ"}, "no daily_clean data"),
        ("get_chain_sample", {"symbol": "AAPL", "view": "weekly"}, "view: Input should be"),
        ("get_partition_issues", {"view": "../raw"}, "view: Input should be"),
        ("get_chain_sample", {"symbol": "AAPL", "slot": "25:00"}, "HH:MM"),
        ("get_chain_sample", {"symbol": "AAPL", "expiry": "soon"}, "expiry"),
        ("get_chain_sample", {"symbol": "AAPL", "right": "X"}, "right"),
        (
            "get_chain_sample",
            {"symbol": "AAPL", "strike_min": 300, "strike_max": 100},
            "strike_min",
        ),
        (
            "get_chain_sample",
            {"symbol": "AAPL", "fields": ["conid", "password"]},
            "unknown column",
        ),
        ("get_chain_sample", {"symbol": "AAPL", "limit": "many"}, "limit"),
        ("get_chain_sample", {}, "symbol"),
        ("list_recent_runs", {"status": "exploded"}, "status: Input should be 'running'"),
        ("list_recent_runs", {"task": "x; DROP TABLE runs"}, "task: Input should be"),
        ("list_recent_runs", {"task": "snapshots"}, "'snapshot', 'close-snapshot'"),
        ("get_iv_smile", {"symbol": "AAPL", "expiry": "2001-01-05"}, "no implied volatility"),
        ("get_chain_change", {"symbol": "AAPL", "fields": ["underlying"]}, "numeric"),
        ("no_such_tool", {}, "Unknown tool"),
    ],
)
def test_bad_arguments_get_a_clear_error(
    mcp: McpSession, tool: str, args: dict[str, Any], words: str
) -> None:
    assert words in mcp.error(tool, args)


def test_run_filters_are_enums_the_agent_can_read(mcp: McpSession) -> None:
    """A task name that matched no run ('snapshots') answered an empty table; the schema
    now lists the task and status names, and a wrong one is refused naming them."""
    tools = {t.name: t for t in mcp.run(lambda c: c.list_tools()).tools}
    schema = tools["list_recent_runs"].input_schema
    names = json.dumps(schema)
    assert '"close-snapshot"' in names and '"enrichment"' in names and '"partial"' in names


def test_a_misspelt_argument_is_refused_not_ignored(mcp: McpSession) -> None:
    """An ignored `expiration` (for `expiry`) or `strike` answered the whole chain as if it
    were the filtered one; the error names the argument and the nearest one the tool takes."""
    message = mcp.error("get_chain_sample", {"symbol": "AAPL", "expiration": "2026-11-27"})
    assert "unknown argument 'expiration'" in message and "did you mean expiry?" in message
    assert "strike_min" in message  # what the tool takes, so the next call can be right
    message = mcp.error("get_iv_smile", {"symbol": "AAPL", "strike": 385, "tenor": 30})
    assert "unknown arguments 'strike', 'tenor'" in message
    assert mcp.ok("get_chain_sample", {"symbol": "AAPL", "limit": 1})["meta"]["rows"] == 1


def test_every_call_is_one_audit_row(mcp: McpSession, audit_db: Path) -> None:
    rows = audit_rows(audit_db)
    assert len(rows) == mcp.calls
    by_status = {
        s: [r for r in rows if r["status"] == s] for s in ("ok", "clamped", "rejected", "error")
    }
    assert by_status["clamped"] and all(r["clamped"] == 1 for r in by_status["clamped"])
    assert by_status["rejected"] and all(r["error"] for r in by_status["rejected"])
    assert not by_status["error"]
    traversal = [r for r in rows if json.loads(r["arguments"]).get("symbol") == "../../etc"]
    assert (
        len(traversal) == 1
        and traversal[0]["status"] == "rejected"
        and "invalid symbol" in traversal[0]["error"]
    )
    unknown = [r for r in rows if r["tool"] == "no_such_tool"]
    assert len(unknown) == 1 and unknown[0]["status"] == "rejected"
