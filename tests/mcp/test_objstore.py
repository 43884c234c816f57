"""The MCP server over an object-store data root answers as it does over a local folder.

The synthetic store (every planted fault included) is put on the loopback S3 server through
the data root's own writer (tests.support.mirror: one PUT per file, the bucket then listed
through the S3 API itself), and two real stdio servers are started: one on the local tree,
one on `s3://bucket/data` with a copy of the same ledger. Every tool, with arguments that
reach each read path (slot files, daily_clean, history, listings, the nearest-partition
errors, partition issues, SQL views and `<view>_on` macros), must give the same reply from
both; the local server is the oracle. Only what is about the filesystem itself differs:
disk figures (an object store has none) and timings.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from mcp.client.stdio import StdioServerParameters

from collector.ops.maintenance.compaction import compact_week
from scripts.bench.synthetic_store import Shape, build_store
from shared.calendar import previous_session
from shared.config import load_config
from shared.datafs import data_root, write_bytes
from shared.storage import Layout
from tests.support.clock import STORE_END, pinned_env
from tests.support.mcp_client import McpSession, server_params
from tests.support.mirror import comparable, mirror
from tests.support.s3 import S3Server, list_keys, make_bucket, use_server

AWS_VARS = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION",
            "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")  # fmt: skip
DAY = STORE_END.isoformat()


@pytest.fixture(scope="module")
def aws_env(s3_srv: S3Server) -> Iterator[dict[str, str]]:
    with pytest.MonkeyPatch.context() as mp:
        use_server(mp, s3_srv)
        yield {k: os.environ[k] for k in AWS_VARS}


@pytest.fixture(scope="module")
def s3_site(
    store: Path, s3_srv: S3Server, aws_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, str]:
    """A copy of the store's config and state whose data root is a bucket holding its files."""
    bucket = make_bucket(s3_srv)
    local = Layout.from_config(load_config(store))
    assert isinstance(local.data, Path)
    uri = mirror(local.data, s3_srv, bucket)
    write_bytes(data_root(f"s3://{bucket}/outside.parquet"), b"PAR1 outside the data root")
    assert len(list_keys(s3_srv, bucket)) > 150  # every partition, history, the corrupt, *.tmp
    return _site(store, uri, tmp_path_factory.mktemp("s3site")), bucket


def _site(config: Path, data: str, site: Path) -> Path:
    """A copy of a store's config and state at `site`, its data root `data`. The time limit
    is a minute: the comparison is of answers, and a busy CI machine must not turn one
    side's answer into a timeout."""
    local = Layout.from_config(load_config(config))
    shutil.copytree(config.parent, site / "config")
    shutil.copytree(local.state, site / "state")
    toml = (site / "config" / "opt-data.toml").read_text(encoding="utf-8")
    assert 'data = "data"' in toml and "[mcp]\n" in toml
    toml = toml.replace('data = "data"', f'data = "{data}"')
    (site / "config" / "opt-data.toml").write_text(
        toml.replace("[mcp]\n", "[mcp]\nquery_timeout_sec = 60\n")
    )
    return site / "config" / "opt-data.toml"


def _params(config: Path, audit: Path, env: dict[str, str]) -> StdioServerParameters:
    base = server_params(config, "--allow-raw", "--audit-db", str(audit))
    return StdioServerParameters(command=base.command, args=base.args, env={**pinned_env(), **env})


@pytest.fixture(scope="module")
def pair(
    store: Path, s3_site: tuple[Path, str], aws_env: dict[str, str], session_factory: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[McpSession, McpSession]:  # fmt: skip
    audits = tmp_path_factory.mktemp("audits")
    data = Layout.from_config(load_config(store)).data
    on_disk = _site(store, str(data), tmp_path_factory.mktemp("localsite"))
    local = session_factory(_params(on_disk, audits / "local.db", {}))
    remote = session_factory(_params(s3_site[0], audits / "s3.db", aws_env))
    return local, remote


# fmt: off
CALLS: list[tuple[str, dict[str, Any]]] = [
    ("list_underlyings", {}),
    ("list_sessions", {"view": "intraday", "symbol": "SPY"}),
    ("list_expiries", {"symbol": "SPY"}),
    ("get_history_bars", {"symbol": "AAPL"}),
    ("get_history_bars", {"symbol": "MSFT", "start": "2026-11-19", "end": DAY}),
    ("get_chain_sample", {"symbol": "SPY"}),
    ("get_chain_sample", {"symbol": "AAPL", "view": "intraday", "slot": "10:30", "limit": 50}),
    ("get_chain_sample", {"symbol": "QQQ", "view": "close", "date": DAY}),
    ("get_chain_change", {"symbol": "SPY", "view": "daily_clean"}),
    ("get_iv_smile", {"symbol": "AAPL"}),
    ("get_iv_smile", {"symbol": "MSFT", "view": "intraday", "slot": "15:30"}),
    ("get_atm_term_structure", {"symbol": "QQQ", "date": DAY}),
    ("get_put_call_ratios", {"symbol": "SPY"}),
    ("get_oi_gamma_by_strike", {"symbol": "MSFT", "limit": 5}),
    ("get_vol_timeseries", {"symbol": "SPY", "sessions": 3}),
    ("get_vol_timeseries", {"symbol": "AAPL", "view": "intraday", "sessions": 2, "each_slot": True}),
    ("get_vol_surface", {"symbol": "SPY"}),
    ("health_overview", {}),
    ("run_status_overview", {}),
    ("list_recent_runs", {"limit": 5}),
    ("get_partition_issues", {"days": 2}),
    ("get_partition_issues", {"days": 1, "view": "intraday", "limit": 100}),
    ("run_sql", {"sql": "SELECT underlying, count(*) AS n, round(avg(iv), 8) AS iv FROM daily_clean "
                        "GROUP BY ALL ORDER BY ALL"}),
    ("run_sql", {"sql": "SELECT slot, count(*) AS n FROM intraday_on('2026-11-19', 'SPY') "
                        "GROUP BY slot ORDER BY slot"}),
    ("run_sql", {"sql": "SELECT date, count(*) AS n FROM close GROUP BY date ORDER BY date"}),
    ("run_sql", {"sql": "SELECT bar, underlying, count(*) AS n FROM history GROUP BY ALL ORDER BY ALL"}),
    ("run_sql", {"sql": "SELECT count(*) FROM daily_clean_on('2026-11-*', '*')"}),
]
# fmt: on


@pytest.mark.parametrize(
    ("tool", "args"), CALLS, ids=[f"{t}-{i}" for i, (t, _) in enumerate(CALLS)]
)
def test_a_tool_answers_the_same_from_the_bucket(
    pair: tuple[McpSession, McpSession], tool: str, args: dict[str, Any]
) -> None:
    local_error, local = pair[0].call(tool, args)
    s3_error, remote = pair[1].call(tool, args)
    assert (s3_error, local_error) == (False, False), remote if s3_error else local
    if tool == "health_overview":
        assert local["disk"].pop("filesystem") is not None
        assert remote["disk"].pop("filesystem") is None  # an object store has no statvfs
    assert comparable(remote) == comparable(local)


def test_partition_issues_find_every_planted_fault_in_the_bucket(
    pair: tuple[McpSession, McpSession],
) -> None:
    reply = pair[1].ok("get_partition_issues", {"days": 1, "limit": 500})
    kinds = set(reply["summary"])
    assert {"missing", "empty", "corrupt", "leftover_tmp", "delayed_rows", "low_fill",
            "duplicates", "rollup_fallback", "missing_oi"} <= kinds, kinds  # fmt: skip


ERRORS: list[tuple[str, dict[str, Any]]] = [
    ("get_chain_sample", {"symbol": "SPY", "view": "intraday", "slot": "09:45"}),
    ("get_chain_sample", {"symbol": "ZZZZ"}),
    ("get_history_bars", {"symbol": "NVDA"}),
    ("run_sql", {"sql": "SELECT * FROM nowhere"}),
    # the planted corrupt slot file: DuckDB names it, under the root it was read from
    ("run_sql", {"sql": f"SELECT count(*) FROM intraday_on('{DAY}', 'SPY')"}),
]


@pytest.mark.parametrize(
    ("tool", "args"), ERRORS, ids=[f"{t}-{i}" for i, (t, _) in enumerate(ERRORS)]
)
def test_a_refusal_is_the_same_from_the_bucket(
    pair: tuple[McpSession, McpSession], store: Path, s3_site: tuple[Path, str], tool: str,
    args: dict[str, Any],
) -> None:  # fmt: skip
    local_root = str(Layout.from_config(load_config(store)).data)
    local = pair[0].error(tool, args).replace(local_root, "<root>")
    remote = pair[1].error(tool, args).replace(f"s3://{s3_site[1]}/data", "<root>")
    assert remote == local


def test_sql_reads_nothing_outside_the_data_root(
    pair: tuple[McpSession, McpSession], s3_site: tuple[Path, str]
) -> None:
    bucket = s3_site[1]
    for uri in (f"s3://{bucket}/outside.parquet", f"s3://{bucket}/data/state.parquet",
                "s3://another-bucket/x.parquet", "/etc/passwd"):  # fmt: skip
        text = pair[1].error("run_sql", {"sql": f"SELECT * FROM read_parquet('{uri}')"})
        assert "permission denied" in text, text
    text = pair[1].error("run_sql", {"sql": f"COPY (SELECT 1) TO 's3://{bucket}/data/raw/x.csv'"})
    assert "SELECT" in text


# --- compacted days: compacted.parquet read by slot, a re-collected slot file wins -------------
@pytest.fixture(scope="module")
def compacted_pair(
    s3_srv: S3Server, aws_env: dict[str, str], session_factory: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[McpSession, McpSession]:  # fmt: skip
    """A 2-session store compacted by the collector's own code, one slot collected again
    after compaction and one compacted file corrupt, then served from disk and from S3."""
    root = tmp_path_factory.mktemp("compacted-local")
    config = build_store(root, sessions=2, symbols=["AAPL", "MSFT", "SPY"],
                         shape=Shape(expiries=2, strikes=4), end=STORE_END)  # fmt: skip
    cfg = load_config(config)
    layout = Layout.from_config(cfg)
    days = [previous_session(STORE_END).trade_date, STORE_END]
    again = layout.chain_file("intraday", days[0], "AAPL", "10:00")
    kept = pq.read_table(again).slice(0, 3)
    for week in sorted({d.isocalendar()[:2] for d in days}):
        monday = date.fromisocalendar(week[0], week[1], 1)
        compact_week(layout, monday, today=days[-1], same_day=True,
                     compression_level=cfg.storage.compression_level)  # fmt: skip
    assert not again.exists()
    pq.write_table(kept, again)  # re-collected after compaction: newer than its packed copy
    layout.compacted_file("intraday", days[-1], "SPY").write_bytes(b"PAR1 not a parquet file")
    assert isinstance(layout.data, Path)
    uri = mirror(layout.data, s3_srv, make_bucket(s3_srv))
    on_s3 = _site(config, uri, tmp_path_factory.mktemp("compacted-s3"))
    on_disk = _site(config, str(layout.data), tmp_path_factory.mktemp("compacted-local"))
    audits = tmp_path_factory.mktemp("compacted-audits")
    local = session_factory(_params(on_disk, audits / "local.db", {}))
    remote = session_factory(_params(on_s3, audits / "s3.db", aws_env))
    return local, remote


OLDER = "2026-11-19"
# fmt: off
COMPACTED_CALLS: list[tuple[str, dict[str, Any]]] = [
    ("get_chain_sample", {"symbol": "MSFT", "date": OLDER, "view": "intraday", "slot": "12:30"}),
    ("get_chain_sample", {"symbol": "AAPL", "date": OLDER, "view": "intraday", "slot": "10:00"}),
    ("get_chain_sample", {"symbol": "AAPL", "date": OLDER, "view": "intraday"}),
    ("get_vol_timeseries", {"symbol": "MSFT", "view": "intraday", "sessions": 2, "each_slot": True}),
    ("get_partition_issues", {"days": 2, "view": "intraday", "limit": 200}),
    ("run_sql", {"sql": f"SELECT underlying, slot, count(*) AS n FROM intraday WHERE date = '{OLDER}' "
                        "GROUP BY ALL ORDER BY ALL"}),
    ("run_sql", {"sql": f"SELECT slot, count(*) AS n FROM intraday_on('{OLDER}', 'AAPL') "
                        "GROUP BY slot ORDER BY slot"}),
]
# fmt: on


@pytest.mark.parametrize(
    ("tool", "args"), COMPACTED_CALLS, ids=[f"{t}-{i}" for i, (t, _) in enumerate(COMPACTED_CALLS)]
)
def test_a_compacted_day_reads_the_same_from_the_bucket(
    compacted_pair: tuple[McpSession, McpSession], tool: str, args: dict[str, Any]
) -> None:
    local, remote = compacted_pair[0].ok(tool, args), compacted_pair[1].ok(tool, args)
    if tool == "get_partition_issues":  # pyarrow names the source: a local path, or '<Buffer>'
        for reply in (local, remote):
            for row in reply["issues"]["rows"]:
                if row[4] == "corrupt":
                    row[5] = row[5].split(": Could not open Parquet input source")[0]
    assert comparable(remote) == comparable(local)
    if tool == "run_sql" and "intraday_on" in args["sql"]:
        assert dict(remote["rows"])["10:00"] == 3  # the re-collected slot file, not the packed rows


def test_a_missing_bucket_stops_the_server_in_one_line(
    s3_site: tuple[Path, str], aws_env: dict[str, str], tmp_path: Path
) -> None:
    config = tmp_path / "config" / "opt-data.toml"
    shutil.copytree(s3_site[0].parent, config.parent)
    config.write_text(config.read_text().replace(f"s3://{s3_site[1]}/", "s3://no-such-bucket/"))
    proc = subprocess.run(
        [sys.executable, "-m", "mcp_server", "--config", str(config), "--audit-db",
         str(tmp_path / "audit.db")],
        capture_output=True, text=True, timeout=120, env={**os.environ, **aws_env},
        stdin=subprocess.DEVNULL, check=False,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "bucket 'no-such-bucket' does not exist" in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr and aws_env["AWS_SECRET_ACCESS_KEY"] not in proc.stderr
