"""A session that tries everything leaves the data tree and the ledger byte-for-byte unchanged.

The only file the server may write is its audit DB, at the default state/run_logs/mcp_audit.db.
SQLite itself creates the ledger's shared-memory index (-shm) and an empty -wal when any
reader opens a WAL database (the collector's connections share them); the WAL must stay
empty, i.e. nothing was written to the ledger.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from scripts.bench.synthetic_store import Shape, build_store
from tests.support.clock import STORE_END
from tests.support.mcp_client import McpSession, audit_rows, server_params

AUDIT_NAMES = {"mcp_audit.db", "mcp_audit.db-wal", "mcp_audit.db-shm", "mcp_audit.db-journal"}
WAL_INDEX = {"ledger.sqlite-shm", "ledger.sqlite-wal"}

CALLS: list[tuple[str, dict[str, Any]]] = [
    ("health_overview", {}),
    ("run_status_overview", {"days": 14}),
    ("list_recent_runs", {"limit": 500}),
    ("get_partition_issues", {"days": 14, "limit": 2000}),
    ("get_chain_sample", {"symbol": "AAPL", "view": "intraday", "limit": 1000}),
    ("get_chain_sample", {"symbol": "SPY", "view": "close"}),
    ("get_chain_sample", {"symbol": "../../state/ledger"}),
    ("get_chain_sample", {"symbol": "AAPL", "date": "1999-01-01"}),
    ("get_iv_smile", {"symbol": "MSFT"}),
    ("get_atm_term_structure", {"symbol": "QQQ", "view": "intraday"}),
    ("get_put_call_ratios", {"symbol": "SPY"}),
    ("get_oi_gamma_by_strike", {"symbol": "AAPL"}),
    ("get_chain_change", {"symbol": "MSFT", "view": "intraday"}),
    ("get_chain_change", {"symbol": "MSFT"}),
    ("get_partition_issues", {"view": "bogus"}),
    (
        "get_chain_sample",
        {"symbol": "SPY", "view": "intraday", "slot": "11:00"},
    ),  # the corrupt file
]


def tree_digest(root: Path) -> dict[str, str]:
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.name not in AUDIT_NAMES | WAL_INDEX:
            out[path.relative_to(root).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


@pytest.fixture(scope="module")
def own_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ro-store")
    return build_store(
        root, sessions=2, symbols=4, shape=Shape(expiries=3, strikes=6), faults=True, end=STORE_END
    )


def test_a_session_that_tries_everything_changes_nothing(
    own_store: Path, session_factory: Any
) -> None:
    root = own_store.parent.parent
    before = tree_digest(root)
    assert any(k.endswith("ledger.sqlite") for k in before) and any(
        k.endswith(".parquet") for k in before
    )
    mcp: McpSession = session_factory(server_params(own_store, "--allow-raw"))
    outcomes = [mcp.call(tool, args)[0] for tool, args in CALLS]
    assert True in outcomes and False in outcomes  # both answers and refusals happened
    mcp.run(lambda c: c.read_resource("opt-data://contract"))
    mcp.run(lambda c: c.get_prompt("daily_health_report", {}))
    mcp.close()
    assert tree_digest(root) == before
    wal = root / "state" / "ledger.sqlite-wal"
    assert not wal.exists() or wal.stat().st_size == 0
    rows = audit_rows(root / "state" / "run_logs" / "mcp_audit.db")
    assert [r["tool"] for r in rows] == [tool for tool, _ in CALLS]
    corrupt = rows[-1]
    assert corrupt["status"] == "rejected" and "unreadable" in corrupt["error"]
