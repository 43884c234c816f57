"""run_sql over stdio: answers over the stored views, and a fuzz of escapes that must all fail.

Done when: 0 escapes (no byte of a file outside the data root, no environment variable),
0 writes (SHA-256 of every file of the tree unchanged but the audit DB), every statement
audited, a runaway query stopped by the time limit, and answers that count nothing twice.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from mcp.client.stdio import StdioServerParameters

from mcp_server.sql import run_sql
from mcp_server.sql.sandbox import Sandbox
from shared.config import load_config
from shared.queries.context import ServerContext
from shared.queries.paths import QueryError
from shared.storage import Layout
from tests.mcp import known_smile as ks
from tests.mcp.test_read_only import tree_digest
from tests.support.clock import pinned_env
from tests.support.mcp_client import McpSession, audit_rows

SECRET = "opt-data-env-secret-5b1e"
PASSWD_MARK = "root:x:0:0"


@pytest.fixture(scope="module")
def known_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    config = ks.build_known_store(tmp_path_factory.mktemp("sql"))
    root = config.parent.parent
    (root / "outside.txt").write_text(f"outside the data root {SECRET}\n", encoding="utf-8")
    # A symlink inside the data root pointing out of it must not be followed.
    (root / "data" / "clean" / "etc").symlink_to("/etc")
    with config.open("a", encoding="utf-8") as fh:
        fh.write("query_timeout_sec = 3.0\n")  # appended to the store's [mcp] section
    return config


@pytest.fixture(scope="module")
def mcp(known_store: Path, session_factory: Callable[..., McpSession]) -> McpSession:
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    env.update(pinned_env())
    env["OPT_DATA_SQL_FUZZ_SECRET"] = SECRET
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "mcp_server", "--config", str(known_store), "--allow-raw"],
        env=env,
    )
    return session_factory(params)


def test_answers_count_compacted_and_slot_files_once(mcp: McpSession) -> None:
    out = mcp.ok("run_sql", {"sql": "SELECT slot, count(*) AS n, min(iv) AS lo FROM intraday "
                                    "GROUP BY slot ORDER BY slot"})  # fmt: skip
    assert out["columns"] == ["slot", "n", "lo"]
    # 54 rows per slot; 12:00 is the newer slot file (ATM 22% + 1 pt), not also the compacted copy
    # iv is stored as float32 (7 significant digits, docs/data-contract.md)
    out_rows = [
        ["10:00", 54, pytest.approx(0.20, rel=1e-6)],
        ["12:00", 54, pytest.approx(0.23, rel=1e-6)],
        ["16:00", 54, pytest.approx(0.22, rel=1e-6)],
    ]
    assert out["rows"] == out_rows
    out = mcp.ok("run_sql", {"sql": "SELECT underlying, count(DISTINCT trade_date) AS days, "
                                    "max(date) AS last FROM daily_clean GROUP BY 1 ORDER BY 1"})  # fmt: skip
    assert out["rows"] == [["KNWN", 3, "2026-11-20"], ["NARW", 3, "2026-11-20"]]
    by_path = mcp.ok("run_sql", {"sql": "SELECT slot, count(*) AS n, min(iv) AS lo FROM "
                                        "intraday_on('2026-11-20', 'KNWN') GROUP BY slot ORDER BY slot"})  # fmt: skip
    assert by_path["rows"] == out_rows
    out = mcp.ok("run_sql", {"sql": "SELECT count(*) FROM daily_clean_on('2026-11-1*', 'NARW')"})
    assert out["rows"] == [[2 * 3 * 2 * 3]]  # 18th and 19th: 3 strikes x 2 rights x 3 expiries
    out = mcp.ok("run_sql", {"sql": "SELECT count(*) FROM history"})
    assert out["rows"] == [[0]]  # no history yet: an empty view of the contract's columns


def test_a_macro_over_a_date_not_stored_says_so_without_the_server_path(
    mcp: McpSession, known_store: Path
) -> None:
    """DuckDB's 'No files found that match the pattern "/srv/..."' named the server's data
    root and not what to do; the error names the pattern under the root and list_sessions."""
    message = mcp.error(
        "run_sql", {"sql": "SELECT count(*) FROM daily_clean_on('2001-01-05', 'KNWN')"}
    )
    root = str(known_store.parent.parent)
    assert root not in message, message
    assert (
        "no stored file matches clean/ib/chain/view=daily_clean/date=2001-01-05/underlying=KNWN"
        in message
    )
    assert "list_sessions" in message


def test_row_cap_and_truncated(mcp: McpSession) -> None:
    out = mcp.ok(
        "run_sql", {"sql": "SELECT strike, iv FROM daily_clean ORDER BY strike", "limit": 7}
    )
    assert len(out["rows"]) == 7 and out["meta"]["truncated"] is True
    out = mcp.ok("run_sql", {"sql": "SELECT 1 AS one", "limit": 10**9})
    assert out["meta"]["clamped"] is True and out["rows"] == [[1]]


# Statements that may answer: harmless reads (the long one checks the audit keeps it whole).
LONG_OK = "SELECT count(*) AS n FROM daily_clean WHERE " + " OR ".join(
    f"strike = {k}" for k in range(300)
)
HARMLESS = {"SELECT * FROM query('SELECT 42 AS x')", LONG_OK}

HOSTILE = [
    "SELECT * FROM read_text('/etc/passwd')",
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_blob('/etc/hostname')",
    "SELECT * FROM read_parquet('/etc/../etc/passwd')",
    "SELECT * FROM read_json_auto('/etc/os-release')",
    "SELECT * FROM glob('/*')",
    "SELECT * FROM parquet_metadata('/etc/passwd')",
    "SELECT * FROM read_text('{root}/outside.txt')",
    "SELECT * FROM read_text('{root}/data/../outside.txt')",
    "SELECT * FROM read_blob('{root}/state/ledger.sqlite')",
    "SELECT * FROM read_text('{root}/data/clean/etc/passwd')",
    "SELECT * FROM glob('{root}/data/clean/etc/*')",
    "SELECT * FROM daily_clean_on('../../../../../../../etc', '*')",
    "SELECT * FROM daily_clean_on('*', '../../../../../../../../../etc/passwd')",
    "SELECT * FROM read_text('{root}/state/run_logs/mcp_audit.db')",
    "SELECT * FROM 'http://127.0.0.1:9/x.parquet'",
    "SELECT getenv('OPT_DATA_SQL_FUZZ_SECRET')",
    "COPY (SELECT 1) TO '{root}/data/clean/x.csv'",
    "COPY daily_clean TO '/tmp/opt-data-fuzz.parquet'",
    "ATTACH '{root}/data/clean/new.duckdb' AS x",
    "ATTACH '{root}/state/ledger.sqlite' AS l (TYPE sqlite)",
    "INSTALL httpfs",
    "LOAD httpfs",
    "LOAD '/tmp/evil.duckdb_extension'",
    "SET enable_external_access = true",
    "SET allowed_directories = ['/']",
    "RESET lock_configuration",
    "PRAGMA enable_profiling",
    "CALL pragma_version()",
    "CREATE TABLE t AS SELECT 1",
    "CREATE MACRO m(x) AS x",
    "INSERT INTO daily_clean SELECT * FROM daily_clean",
    "DROP VIEW daily_clean",
    "EXPORT DATABASE '{root}/data/clean/export'",
    "CHECKPOINT",
    "BEGIN TRANSACTION",
    "SELECT 1; COPY (SELECT 1) TO '{root}/data/clean/y.csv'",
    "SELECT 1 /* ; */; ATTACH ':memory:' AS m",
    "SELECT 1 --\n; INSTALL httpfs",
    "/* SELECT */ COPY (SELECT 1) TO '{root}/z.csv'",
    "SELECT * FROM query('COPY (SELECT 1) TO ''{root}/q.csv''')",
    "SELECT * FROM query('ATTACH ''{root}/q.duckdb''')",
    "SELECT * FROM query_table('duckdb_settings')",
    "SELECT * FROM query('SELECT 42 AS x')",
    "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r",
    "SELECT count(*) FROM range(100000000) a, range(100000000) b, range(10) c",
    "SELECT sum(a.range * b.range) FROM range(200000000) a, range(10000000) b",
    "PIVOT daily_clean ON right USING count(*)",
    "EXPLAIN ANALYZE SELECT 1",
    "SUMMARIZE SELECT * FROM read_text('/etc/passwd')",
    "SELECT * FROM intraday_missing_view",
    "",
    "SELECT " + "1+" * 5000 + "1",
    LONG_OK,
    "SELECT '\x00'",
]


def test_fuzz_gives_no_escape_no_write_and_one_audit_row_each(
    mcp: McpSession, known_store: Path
) -> None:
    root = known_store.parent.parent
    audit = root / "state" / "run_logs" / "mcp_audit.db"
    before_rows = len(audit_rows(audit)) if audit.exists() else 0
    before = tree_digest(root)
    outcomes = []
    for text in HOSTILE:
        sql = text.replace("{root}", str(root))
        start = time.monotonic()
        is_error, payload = mcp.call("run_sql", {"sql": sql})
        elapsed = time.monotonic() - start
        shown = str(payload)
        assert PASSWD_MARK not in shown and SECRET not in shown, sql
        assert "Traceback" not in shown and len(shown) < 2_000, sql
        assert elapsed < 8, (sql, elapsed)  # the 3 s limit stops runaway queries in DuckDB
        outcomes.append((sql, is_error, shown))
    passed = [(sql, shown) for sql, is_error, shown in outcomes if not is_error]
    # The harmless statements answer; every other one is refused.
    assert {sql for sql, _ in passed} == HARMLESS, passed
    assert tree_digest(root) == before
    for name in ("x.csv", "y.csv", "new.duckdb", "export", "q.csv", "q.duckdb"):
        assert not (root / "data" / "clean" / name).exists()
    assert not Path("/tmp/opt-data-fuzz.parquet").exists()
    rows = audit_rows(audit)[before_rows:]
    assert len(rows) == len(HOSTILE) and {r["tool"] for r in rows} == {"run_sql"}
    # refused statements are 'rejected'; one stopped at the time limit failed, as a slow
    # query of any other tool does: 'error'
    for (_, _, shown), row in zip(outcomes, rows, strict=True):
        want = ("error",) if "stopped after" in shown else ("rejected", "ok")
        assert row["status"] in want, (shown, row["status"])
    # every statement the tool received is in its audit row whole (not cut to 200 characters)
    for (sql, _, _), row in zip(outcomes, rows, strict=True):
        if len(sql) <= 8000:
            assert json.loads(row["arguments"])["sql"] == sql
    timed_out = [o for o in outcomes if "stopped after" in o[2]]
    assert timed_out, "a runaway query should have hit the time limit"
    assert sum(r["status"] == "error" for r in rows) == len(timed_out)


def test_time_limit_stops_the_query_inside_duckdb(known_store: Path) -> None:
    layout = Layout.from_config(load_config(known_store))
    sandbox = Sandbox.for_access(layout, allow_raw=True, allow_clean=True)
    start = time.monotonic()
    with pytest.raises(QueryError, match=r"stopped after 0\.5 s"):
        sandbox.run("SELECT sum(a.range * b.range) FROM range(200000000) a, range(1000000) b",
                    10, 0.5)  # fmt: skip
    assert time.monotonic() - start < 3  # returned, i.e. DuckDB stopped, not just abandoned


def test_raw_views_need_allow_raw(known_store: Path) -> None:
    ctx = ServerContext.build(load_config(known_store), allow_raw=False, allow_clean=True)
    with pytest.raises(QueryError, match="not readable on this server"):
        run_sql(ctx, "SELECT count(*) FROM intraday")
    with pytest.raises(QueryError, match="permission denied"):
        run_sql(
            ctx, f"SELECT count(*) FROM read_parquet('{ctx.layout.raw}/ib/chain/*/*/*/*.parquet')"
        )
    # 3 sessions x (KNWN 9 strikes + NARW 3 strikes) x 2 rights x 3 expiries
    assert run_sql(ctx, "SELECT count(*) FROM daily_clean")["rows"] == [[3 * 12 * 2 * 3]]
