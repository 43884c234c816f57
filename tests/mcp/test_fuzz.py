"""10,000 fuzzed calls over stdio: no escape from the data root, no write, no traceback.

Marked slow (about a minute and a half on the 2-core reference machine); `make test` runs
it, `make test-fast` does not. OPT_DATA_FUZZ_CALLS changes the count.

Arguments are drawn (seeded) from every tool's own input schema, mixed with what an
attacker or a confused agent sends: path tricks, a symlink planted inside the data root
that leads outside it, huge strings, wrong types, bad cursors, unknown tools. A marker
file outside the data root must never be read into a reply.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from scripts.bench.synthetic_store import Shape, build_store
from shared.config import load_config
from shared.queries.results import HARD_REPLY_BYTES
from shared.storage import Layout
from tests.support.clock import STORE_END
from tests.support.mcp_client import SYMBOLS, McpSession, audit_rows, server_params

CALLS = int(os.environ.get("OPT_DATA_FUZZ_CALLS", "10000"))
MARKER = "OUTSIDE-THE-DATA-ROOT-7f3a"
EVIL = "EVIL"  # an underlying directory that is a symlink out of the data root

STRINGS = [
    "", " ", "AAPL", "aapl", "SPY", "MSFT", "QQQ", EVIL, "../../etc", "/etc/passwd", "..", "AAPL/../SPY",
    "%2e%2e%2f", "A\x00B", "😀", "' OR 1=1 --", "C", "P", "call", "put", "daily_clean", "intraday", "close",
    "weekly", "10:00", "16:00", "25:61", "0930", "today", "yesterday", "last_session", "-1", "-3", "-99999",
    "friday", "saturday", "2026-11-20", "2026-11-19", "2026-02-30", "1999-01-01", "2999-01-01", "20261120",
    "SPXW", "SPX", "snapshot", "rollup", "failed", "x" * 300, "0.a1b2c3d4e5f6", "9999999999.x",
]  # fmt: skip


# SQLite creates the ledger's shared-memory index and an empty -wal for any WAL reader
# (see test_read_only.py); the -wal must stay empty.
WAL_INDEX = {"ledger.sqlite-shm", "ledger.sqlite-wal"}


def digest(root: Path, skip: Path | None = None) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name not in WAL_INDEX and not (skip and p.is_relative_to(skip))
    }


def value_for(rng: random.Random, schema: dict[str, Any]) -> Any:
    roll = rng.random()
    if roll < 0.01:
        return "Z" * rng.choice([1_000, 50_000, 200_000])
    if roll < 0.06:
        return rng.choice(
            [None, -1, 0, 2**63, 1e308, -0.5, True, [], {}, ["a"] * 100, {"$ref": "x"}]
        )
    text = json.dumps(schema)
    if '"integer"' in text:
        return rng.choice([None, -5, 0, 1, 3, 50, 10**6, "7", "many"])
    if '"number"' in text:
        return rng.choice([None, -1.0, 0.0, 100.0, 350.5, float("1e300"), "x"])
    if '"boolean"' in text:
        return rng.choice([True, False, "yes"])
    if '"array"' in text:
        size = rng.choice([0, 1, 3, 70])
        return [rng.choice([*STRINGS, str(rng.randint(0, 10**10))]) for _ in range(size)]
    return rng.choice(STRINGS)


@pytest.fixture(scope="module")
def fuzz_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store of its own (with the planted faults) plus a symlinked underlying directory
    that leads outside the root."""
    store = build_store(tmp_path_factory.mktemp("fuzz"), sessions=2, symbols=SYMBOLS,
                        shape=Shape(expiries=3, strikes=8), faults=True, end=STORE_END)  # fmt: skip
    outside = tmp_path_factory.mktemp("outside")
    (outside / "secret.txt").write_text(MARKER)
    table = pa.table({"conid": [1], "iv": [0.5], "local_symbol": [MARKER]})
    pq.write_table(table, outside / "part.parquet")
    layout = Layout.from_config(load_config(store))
    link = layout.underlying_dir("daily_clean", STORE_END, EVIL)
    if not link.exists():
        link.symlink_to(outside, target_is_directory=True)
    return store


@pytest.mark.slow
def test_fuzzed_calls_change_nothing_and_leak_nothing(
    fuzz_store: Path, tmp_path_factory: pytest.TempPathFactory, session_factory: Any
) -> None:
    layout = Layout.from_config(load_config(fuzz_store))
    audit = tmp_path_factory.mktemp("audit-fuzz") / "audit.db"
    data_before = digest(layout.data)
    state_before = digest(layout.state, audit.parent)
    mcp: McpSession = session_factory(
        server_params(fuzz_store, "--allow-raw", "--audit-db", str(audit))
    )
    tools = mcp.run(lambda c: c.list_tools()).tools
    rng = random.Random(20261130)
    errors = 0
    for i in range(CALLS):
        if rng.random() < 0.02:
            name, args = rng.choice(["nope", "", "x" * 5000, "health_overview/../x"]), {"a": 1}
        else:
            tool = rng.choice(tools)
            props = tool.input_schema.get("properties", {})
            args = {k: value_for(rng, v) for k, v in props.items() if rng.random() < 0.6}
            if rng.random() < 0.03:
                args["unexpected"] = "x" * 1000
            name = tool.name
        result = mcp.run(lambda c, n=name, a=args: c.call_tool(n, a))
        mcp.calls += 1
        text = "".join(getattr(b, "text", "") for b in result.content)
        assert MARKER not in text, f"call {i} {name}({str(args)[:200]}) read outside the data root"
        assert "Traceback" not in text and len(text.encode()) <= HARD_REPLY_BYTES
        if result.is_error:
            errors += 1
            assert len(text) <= 400 and "\n" not in text, text[:500]
    rows = audit_rows(audit)
    assert len(rows) == CALLS, "one audit row per call"
    assert [r for r in rows if r["status"] == "error"] == [], "no internal error"
    assert max(len(r["arguments"]) for r in rows) <= 2000
    assert 0 < errors < CALLS
    assert digest(layout.data) == data_before, "no file in the data root changed"
    assert digest(layout.state, audit.parent) == state_before, (
        "the ledger and run logs are unchanged"
    )
    wal = layout.state / "ledger.sqlite-wal"
    assert not wal.exists() or wal.stat().st_size == 0
