"""Every tool over data the collector wrote against the simulated gateway (real ib_async).

A session-scoped fixture runs the collector's jobs - two intraday snapshots, a
close-snapshot and the rollup - against `collector.gateway_sim.SimThread`, then one MCP
server session (`opt-data mcp-server --allow-raw`) answers every tool over that store.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from collector.gateway_sim import SimThread
from shared.config import AppConfig
from shared.storage import Layout
from tests.support.mcp_client import McpSession, audit_rows, records, server_params
from tests.support.pipeline import SIM_DAY, collect_day, prime_sim, sim_config, write_config

SYMBOLS = ["AAPL", "MSFT"]
SLOTS = ("10:30", "11:00")


@pytest.fixture(scope="module")
def collected(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppConfig]:
    root = tmp_path_factory.mktemp("collected")
    sim = SimThread(sim_config())
    port = sim.start()
    try:
        prime_sim(sim.sim, SYMBOLS)
        cfg = write_config(root, port, SYMBOLS, timeout=0.5)

        collect_day(cfg, SLOTS)
        yield cfg
    finally:
        sim.stop()


@pytest.fixture(scope="module")
def mcp(collected: AppConfig, session_factory: Any) -> McpSession:
    assert collected.source_file is not None
    return session_factory(server_params(collected.source_file, "--allow-raw", entry="console"))


def digest(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_every_tool_answers_over_collected_data(collected: AppConfig, mcp: McpSession) -> None:
    layout = Layout.from_config(collected)
    before = digest(layout.data)
    day = SIM_DAY.isoformat()

    health = mcp.ok("health_overview")
    for view in ("intraday", "close", "daily_clean"):
        assert health["freshness"][view]["last"]["date"] == day
    assert health["freshness"]["intraday"]["partitions_on_last_date"] == len(SYMBOLS) * len(SLOTS)

    runs = records(mcp.ok("list_recent_runs", {"limit": 200})["runs"])
    assert {r["task"] for r in runs if r["trade_date"] == day} >= {
        "snapshot",
        "close-snapshot",
        "rollup",
    }
    status = mcp.ok("run_status_overview", {"days": 14})
    assert status["meta"]["days"] == 14
    issues = mcp.ok("get_partition_issues", {"days": 14})
    assert all(
        i["kind"] not in ("corrupt", "duplicates", "leftover_tmp")
        for i in records(issues["issues"])
    )

    for sym in SYMBOLS:
        file = pl.read_parquet(layout.chain_file("intraday", SIM_DAY, sym, "11:00"))
        sample = mcp.ok("get_chain_sample", {"symbol": sym, "date": day, "view": "intraday", "slot": "11:00",
                                             "fields": ["conid", "strike", "right", "iv"], "limit": 1000})  # fmt: skip
        assert [r["conid"] for r in records(sample)] == file["conid"].to_list()
        clean = mcp.ok("get_chain_sample", {"symbol": sym, "date": day})
        assert clean["partition"]["view"] == "daily_clean" and clean["rows"]
        smile = mcp.ok("get_iv_smile", {"symbol": sym, "view": "intraday"})
        assert smile["points"]["rows"] and smile["spot"] > 0
        assert mcp.ok("get_atm_term_structure", {"symbol": sym})["term_structure"]["rows"]
        ratios = mcp.ok("get_put_call_ratios", {"symbol": sym})
        assert ratios["total"]["call_volume"] is not None
        assert mcp.ok("get_oi_gamma_by_strike", {"symbol": sym})["strikes"]["rows"]
        change = mcp.ok("get_chain_change", {"symbol": sym, "view": "intraday", "to_slot": "11:00"})
        assert (change["from"]["slot"], change["to"]["slot"]) == SLOTS
        assert change["contracts"]["rows"]

    assert digest(layout.data) == before
    assert len(audit_rows(collected.mcp.audit_db)) == mcp.calls  # type: ignore[arg-type]
