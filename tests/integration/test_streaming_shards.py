"""Two streaming collectors, two simulated gateways, one data root and one ledger.

Each `opt-data streaming` process (the real ib_async client) takes its shard of one list of
underlyings: shard 1 by the `[shard]` key, shard 2 by `--shard 2/2`. A second shard 1 is
refused by the shard's lock while the first runs; shard 1 and shard 2 run side by side.
Together they cover the list with no overlap, every file and ledger row is their own
shard's, and health names the shard that has not streamed until it has.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from collector.gateway_sim import SimThread
from shared.calendar import ET, NOW_ENV
from shared.config import load_config
from shared.ledger import LedgerReader
from shared.queries.context import ServerContext
from shared.queries.health import health_overview
from shared.storage import Layout
from shared.universe import shard_of
from tests.support.pipeline import sim_config, site_config

pytestmark = pytest.mark.slow

SYMBOLS = ["AAPL", "MSFT", "SPY", "QQQ"]  # two on each shard of 2 (SHA-1 rule)
NOW = datetime(2026, 11, 18, 11, 0, tzinfo=ET)  # a Wednesday, mid-session
DAY = NOW.date()
OPT_DATA = [sys.executable, "-m", "collector.cli.main"]
STREAMING = f"""
[streaming]
underlyings = {SYMBOLS!r}
strikes_per_side = 1
expiries = 1
flush_interval_sec = 0.5
""".replace("'", '"')


def _start(env: dict[str, str], config: Path, seconds: float, *extra: str) -> subprocess.Popen[str]:
    cmd = [*OPT_DATA, "streaming", "--config", str(config), "--duration", str(seconds), *extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _done(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=180)
    return proc.returncode, out, err


def _wait_for(path: Path, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def _health(config: Path) -> dict[str, Any]:
    cfg = load_config(config, env={})
    ctx = ServerContext.build(cfg, allow_raw=True, allow_clean=True)
    try:
        streaming = health_overview(ctx, now=NOW)["streaming"]
        assert streaming is not None
        return dict(streaming)
    finally:
        ctx.ledger.close()


def test_two_streaming_shards_split_one_list_under_their_own_locks(tmp_path: Path) -> None:
    assert sorted(shard_of(s, 2) for s in SYMBOLS) == [1, 1, 2, 2]
    site = tmp_path / "site"
    site.mkdir()
    (site / "universe.csv").write_text(
        "symbol,conid,sec_type,exchange,currency\n" + "".join(f"{s},,,,\n" for s in SYMBOLS)
    )
    env = {**os.environ, NOW_ENV: NOW.isoformat()}
    locks = site / "state" / "run_locks"
    with (
        SimThread(sim_config(clock_start=NOW)) as sim1,
        SimThread(sim_config(clock_start=NOW)) as sim2,
    ):
        shard1 = STREAMING + "\n[shard]\nindex = 1\ncount = 2\n"
        one = site_config(site, sim1.port, 301, "shard1", shard1)
        two = site_config(site, sim2.port, 302, "shard2", STREAMING)  # shard from --shard

        # long enough that the second start (a new process: seconds on a busy machine)
        # surely finds the first still holding its lock
        first = _start(env, one, 10)
        _wait_for(locks / "streaming_shard1of2.lock", first)
        again = _done(_start(env, one, 1))  # the same shard twice: the lock refuses it
        assert first.poll() is None  # refused while the first was streaming, not after
        code, out, err = _done(first)
        assert code == 0 and "shard 1/2: 2 underlyings" in out, (out, err)
        assert again[0] == 1 and "lock exists" in again[2] and "Traceback" not in again[2]

        missing = _health(one)
        assert missing["missing_shards"] == ["2/2"] and missing["streamed"] == 2, missing

        # shard 2 beside a second run of shard 1: two shards on one host never block
        runs = [_start(env, two, 3, "--shard", "2/2"), _start(env, one, 3)]
        results = [_done(p) for p in runs]
    for code, out, err in results:
        assert code == 0 and "error" not in out, (out, err)
    assert "shard 2/2: 2 underlyings" in results[0][1]

    whole = _health(two)  # the other shard's config reads the same ledger: the list is whole
    assert whole["missing_shards"] == [] and whole["coverage"] == 1.0, whole
    assert [(s["shard"], s["coverage"]) for s in whole["shards"]] == [("1/2", 1.0), ("2/2", 1.0)]

    layout = Layout.from_config(load_config(one, env={}))
    reader = LedgerReader(layout.ledger)
    runs_of = {r["run_id"]: r for r in reader.runs_for_dates([DAY]) if r["task"] == "streaming"}
    assert sorted((r["shard"], r["status"]) for r in runs_of.values()) == [
        ("1/2", "ok"),
        ("1/2", "ok"),
        ("2/2", "ok"),
    ]  # fmt: skip  (the refused run never reached the ledger)
    rows = reader.partitions_for_date(DAY, "streaming")
    assert sorted(r["underlying"] for r in rows) == sorted(SYMBOLS)  # covered, no overlap
    for r in rows:  # each underlying's row was written by the shard its symbol hashes to
        assert runs_of[r["run_id"]]["shard"] == f"{shard_of(r['underlying'], 2)}/2"
    stored = {r["underlying"]: r["rows"] for r in rows}
    for symbol in SYMBOLS:  # every part is on disk, named part-<n>, numbered without gaps
        parts = sorted(layout.streaming_dir(DAY, symbol).iterdir())
        names = [p.name for p in parts]
        assert sorted(names) == sorted(f"part-{n}.parquet" for n in range(len(names))), names
        assert len(names) >= 2
        # the ledger's row adds up every part of both runs of its shard
        assert stored[symbol] == sum(pq.read_metadata(p).num_rows for p in parts) > 0
