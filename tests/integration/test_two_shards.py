"""Two collectors, two simulated gateways, one data root and one Postgres ledger.

Each collector is its own process with its own gateway (port) and client id and takes
`--shard i/2` of one universe. QA names the shard that has not delivered, then, once both
have, reports full coverage per shard and in total; the MCP server's health (a real stdio
client) says the same from the shared ledger.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from mcp.client.stdio import StdioServerParameters

from collector.gateway_sim import SimThread
from shared.calendar import ET, NOW_ENV
from shared.ledger import LedgerReader, LedgerURL
from shared.universe import shard_of
from tests.support.mcp_client import McpSession
from tests.support.pipeline import BASE_TOML, SIM_DAY, sim_config
from tests.support.postgres import PASSWORD, PostgresServer

pytestmark = pytest.mark.slow

SYMBOLS = ["AAPL", "MSFT", "SPY", "QQQ"]  # two on each shard of 2 (SHA-1 rule)
SLOT = "09:30"
NOW = datetime(2026, 11, 18, 9, 34, tzinfo=ET)  # 09:30 is due (grace 120 s), 10:00 is not
OPT_DATA = [sys.executable, "-m", "collector.cli.main"]


def _config(site: Path, port: int, client_id: int, index: int) -> Path:
    text = BASE_TOML.format(
        port=port, root=site, backoff="[0.2, 0.2, 0.2, 0.2]", allow_delayed="true", strikes=2,
        weeklies=1, monthlies=1, timeout=2.0, max_lines=100,
    )  # fmt: skip
    text = text.replace(
        'client_id_pool = "test"', f'client_id = {client_id}\nclient_id_pool = "test"'
    )
    path = site / f"shard{index}.toml"
    path.write_text(text + f"\n[shard]\nindex = {index}\ncount = 2\n", encoding="utf-8")
    return path


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*OPT_DATA, *args], capture_output=True, text=True, timeout=180, env=env, check=False
    )


def _qa(env: dict[str, str], config: Path) -> str:
    proc = _cli(env, "qa", "--config", str(config), "--date", SIM_DAY.isoformat())
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _health(env: dict[str, str], config: Path) -> dict[str, Any]:
    """health_overview through a real MCP client and a server process on the shared ledger."""
    keep = (NOW_ENV, "OPT_DATA_LEDGER_URL")
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "mcp_server", "--config", str(config)],
        env={k: env[k] for k in keep},
    )
    session = McpSession(params)
    try:
        return session.ok("health_overview")
    finally:
        session.close()


def test_two_shards_share_one_root_and_one_postgres_ledger(
    tmp_path: Path, pg_server: PostgresServer
) -> None:
    assert sorted(shard_of(s, 2) for s in SYMBOLS) == [1, 1, 2, 2]
    url = pg_server.new_database()
    site = tmp_path / "site"
    site.mkdir()
    (site / "universe.csv").write_text(
        "symbol,conid,sec_type,exchange,currency\n" + "".join(f"{s},,,,\n" for s in SYMBOLS)
    )
    env = {**os.environ, "OPT_DATA_LEDGER_URL": url, NOW_ENV: NOW.isoformat()}
    clock = datetime(2026, 11, 18, 9, 31, tzinfo=ET)
    with (
        SimThread(sim_config(clock_start=clock)) as sim1,
        SimThread(sim_config(clock_start=clock)) as sim2,
    ):
        assert sim1.port != sim2.port
        configs = [_config(site, sim1.port, 201, 1), _config(site, sim2.port, 202, 2)]
        snap = ["snapshot", "--date", SIM_DAY.isoformat(), "--slot", SLOT, "--config"]

        first = _cli(env, *snap, str(configs[0]))
        assert first.returncode == 0, first.stderr
        report = _qa(env, configs[0])
        assert "missing shards         2/2" in report, report
        assert "shard 1/2 coverage     100.00% (2/2)" in report, report

        health = _health(env, configs[0])["coverage"]["intraday"]
        assert health["missing_shards"] == ["2/2"], health

        second = _cli(env, *snap, str(configs[1]))
        assert second.returncode == 0, second.stderr
        # The other shard's config reads the same ledger and root: the day is whole.
        report = _qa(env, configs[1])

    assert "slot_coverage          100.00%" in report, report
    assert "shard 1/2 coverage     100.00% (2/2)" in report, report
    assert "shard 2/2 coverage     100.00% (2/2)" in report, report
    assert "missing shards" not in report, report
    assert PASSWORD not in first.stderr + second.stderr + report

    health = _health(env, configs[0])["coverage"]["intraday"]
    assert health["coverage"] == 1.0 and health["written"] == len(SYMBOLS), health
    assert [(s["shard"], s["coverage"]) for s in health["shards"]] == [("1/2", 1.0), ("2/2", 1.0)]
    assert health["missing_shards"] == []

    reader = LedgerReader(LedgerURL(url))
    runs = [r for r in reader.runs_for_dates([SIM_DAY]) if r["task"] == "snapshot"]
    assert sorted((r["shard"], r["status"]) for r in runs) == [("1/2", "ok"), ("2/2", "ok")]
    by_run = {r["run_id"]: r["shard"] for r in runs}
    parts = reader.partitions_for_date(SIM_DAY, "intraday")
    assert sorted(p["underlying"] for p in parts) == sorted(SYMBOLS)
    for p in parts:  # each file was written by the shard its symbol hashes to
        assert by_run[p["run_id"]] == f"{shard_of(p['underlying'], 2)}/2"
    assert not (site / "state" / "ledger.sqlite").exists()  # no local ledger on the side
