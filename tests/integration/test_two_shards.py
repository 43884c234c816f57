"""Two collectors, two simulated gateways, one data root on S3 and one Postgres ledger.

Each collector is its own process with its own gateway (port) and client id and takes
`--shard i/2` of one universe. The data root both write is a bucket on an S3-compatible
server (moto on 127.0.0.1, the real S3 client, credentials from the AWS_* environment);
each keeps its state (locks, caches, run logs) on its own local folder. QA names the shard
that has not delivered, then, once both have, reports full coverage per shard and in
total; the MCP server's health and partition issues (a real stdio client, reading the
bucket and the shared ledger) say the same.
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
from tests.support.mirror import comparable, download
from tests.support.pipeline import BASE_TOML, SIM_DAY, sim_config
from tests.support.postgres import PASSWORD, PostgresServer
from tests.support.s3 import SECRET, S3Server, list_keys

pytestmark = pytest.mark.slow

SYMBOLS = ["AAPL", "MSFT", "SPY", "QQQ"]  # two on each shard of 2 (SHA-1 rule)
SLOT = "09:30"
NOW = datetime(2026, 11, 18, 9, 34, tzinfo=ET)  # 09:30 is due (grace 120 s), 10:00 is not
OPT_DATA = [sys.executable, "-m", "collector.cli.main"]
SAME_AS_LOCAL: list[tuple[str, dict[str, Any]]] = [
    ("get_chain_sample", {"symbol": "AAPL", "view": "intraday", "slot": SLOT}),
    ("get_chain_sample", {"symbol": "MSFT", "view": "intraday", "fields": ["conid", "iv", "bid"]}),
    ("get_iv_smile", {"symbol": "SPY", "view": "intraday"}),
    ("get_put_call_ratios", {"symbol": "QQQ", "view": "intraday"}),
    ("list_expiries", {"symbol": "SPY", "view": "intraday"}),
    ("get_partition_issues", {"days": 1}),
    ("run_sql", {"sql": f"SELECT underlying, count(*) AS n, round(avg(bid), 6) AS bid FROM "
                        f"intraday_on('{SIM_DAY}', '*') GROUP BY ALL ORDER BY ALL"}),
]  # fmt: skip


def _config(site: Path, data: str, port: int, client_id: int, index: int) -> Path:
    """Shard `index`'s config: the shared universe and data root, its own state folder."""
    text = BASE_TOML.format(
        port=port, root=site, backoff="[0.2, 0.2, 0.2, 0.2]", allow_delayed="true", strikes=2,
        weeklies=1, monthlies=1, timeout=2.0, max_lines=100,
    )  # fmt: skip
    text = text.replace(
        'client_id_pool = "test"', f'client_id = {client_id}\nclient_id_pool = "test"'
    )
    text = text.replace(f'data = "{site}/data"', f'data = "{data}"')
    text = text.replace(f'state = "{site}/state"', f'state = "{site}/state{index}"')
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


def _mcp(env: dict[str, str], config: Path) -> McpSession:
    """A real MCP client and a server process on the shared ledger and the bucket."""
    keep = (NOW_ENV, "OPT_DATA_LEDGER_URL", *(k for k in env if k.startswith("AWS_")))
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "mcp_server", "--config", str(config), "--allow-raw"],
        env={k: env[k] for k in keep},
    )
    return McpSession(params)


def _health(env: dict[str, str], config: Path) -> dict[str, Any]:
    session = _mcp(env, config)
    try:
        return session.ok("health_overview")
    finally:
        session.close()


def test_two_shards_share_one_s3_root_and_one_postgres_ledger(
    tmp_path: Path, pg_server: PostgresServer, s3_srv: S3Server, s3_root: str
) -> None:
    assert sorted(shard_of(s, 2) for s in SYMBOLS) == [1, 1, 2, 2]
    url = pg_server.new_database()
    bucket = s3_root.split("/")[2]
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
        configs = [
            _config(site, s3_root, sim1.port, 201, 1),
            _config(site, s3_root, sim2.port, 202, 2),
        ]
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
    assert SECRET not in first.stdout + first.stderr + second.stdout + second.stderr + report

    # The MCP server over the bucket, and over a local copy of it (the oracle: local reads)
    copy = download(s3_srv, bucket, "data", tmp_path / "copy")
    local_config = tmp_path / "copy.toml"
    local_config.write_text(configs[0].read_text().replace(s3_root, str(copy)))
    session, local = _mcp(env, configs[0]), _mcp(env, local_config)
    try:
        health = session.ok("health_overview")["coverage"]["intraday"]
        issues = session.ok("get_partition_issues", {"days": 1, "view": "intraday"})
        chain = session.ok("get_chain_sample", {"symbol": "QQQ", "view": "intraday"})
        for tool, args in SAME_AS_LOCAL:
            assert comparable(session.ok(tool, args)) == comparable(local.ok(tool, args)), tool
    finally:
        session.close()
        local.close()
    assert health["coverage"] == 1.0 and health["written"] == len(SYMBOLS), health
    assert [(s["shard"], s["coverage"]) for s in health["shards"]] == [("1/2", 1.0), ("2/2", 1.0)]
    assert health["missing_shards"] == []
    # every file both shards wrote is in the bucket, recorded, and read back by the server
    checked = [c for c in issues["checked"] if c["date"] == SIM_DAY.isoformat()]
    assert [(c["recorded"], c["files"]) for c in checked] == [(len(SYMBOLS), len(SYMBOLS))]
    assert not set(issues["summary"]) & {"missing", "missing_shard", "unrecorded_file",
                                         "ledger_file_missing", "corrupt"}, issues  # fmt: skip
    assert chain["meta"]["resolved"] == {"date": SIM_DAY.isoformat(), "slot": SLOT}
    assert chain["rows"] and chain["partition"]["symbol"] == "QQQ"

    reader = LedgerReader(LedgerURL(url))
    runs = [r for r in reader.runs_for_dates([SIM_DAY]) if r["task"] == "snapshot"]
    assert sorted((r["shard"], r["status"]) for r in runs) == [("1/2", "ok"), ("2/2", "ok")]
    by_run = {r["run_id"]: r["shard"] for r in runs}
    parts = reader.partitions_for_date(SIM_DAY, "intraday")
    assert sorted(p["underlying"] for p in parts) == sorted(SYMBOLS)
    keys = list_keys(s3_srv, bucket)
    for p in parts:  # each file was written by the shard its symbol hashes to, in the bucket
        assert by_run[p["run_id"]] == f"{shard_of(p['underlying'], 2)}/2"
        assert p["path"].startswith(f"{s3_root}/raw/") and p["path"].endswith(".parquet")
        assert keys[p["path"].removeprefix(f"s3://{bucket}/")] == p["bytes"]
    assert not list(site.rglob("*.parquet"))  # nothing of the data tree on the local disk
    for index in (1, 2):  # no local ledger on the side
        assert not (site / f"state{index}" / "ledger.sqlite").exists()
