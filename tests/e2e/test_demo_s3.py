"""`opt-data demo --data s3://...`: the whole simulated session with the Parquet tree on an
S3-compatible server (moto on 127.0.0.1, the real S3 client), state on the local disk."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from shared import datafs
from shared.config import load_config
from shared.ledger import LedgerReader
from shared.storage import Layout
from tests.support.s3 import S3Server, list_keys

pytestmark = pytest.mark.slow
DAY = "2026-11-18"
DATE = date(2026, 11, 18)


def test_demo_on_an_object_store_passes_selfcheck(
    tmp_path: Path, s3_root: str, s3_srv: S3Server
) -> None:
    out = tmp_path / "demo"
    cmd = [sys.executable, "-m", "collector.cli.main", "demo", "--out", str(out)]
    proc = subprocess.run(
        # a stock and an index: both kinds of underlying, half the demo's time
        [*cmd, "--date", DAY, "--symbols", "AAPL,SPX", "--data", s3_root],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "selfcheck: PASS" in proc.stdout and f"data: {s3_root}" in proc.stdout

    # the tree is in the bucket, and nothing of it on the local disk
    keys = list_keys(s3_srv, s3_root.split("/")[2])
    views = {
        k.split("/")[4]
        for k in keys
        if k.startswith("data/raw/ib/chain/") or k.startswith("data/clean/ib/chain/")
    }
    assert views == {"view=intraday", "view=close", "view=daily_clean"}
    assert not any(k.endswith(".tmp") for k in keys)
    assert not list(out.rglob("*.parquet"))

    cfg = load_config(out / "opt-data.demo.toml", env={})
    layout = Layout.from_config(cfg)
    report = json.loads((layout.selfcheck_dir() / "selfcheck_20261118.json").read_text())
    assert report["status"] == "PASS" and report["breaches"] == []
    rows = LedgerReader(layout.ledger).partitions_for_date(DATE, "daily_clean")
    assert rows and all(r["path"].startswith(f"{s3_root}/clean/") for r in rows)
    for r in rows:  # the ledger's bytes are the objects' sizes
        key = r["path"].removeprefix(f"s3://{s3_root.split('/')[2]}/")
        assert keys[key] == r["bytes"]

    # Polars reads the tree by its URI through the same AWS_* chain
    daily = pl.read_parquet(
        f"{layout.view_root('daily_clean')}/date={DAY}/*/*.parquet", hive_partitioning=False
    )
    assert daily.height == sum(r["rows"] for r in rows)
    assert daily.get_column("open_interest").null_count() < daily.height
    assert datafs.list_files(layout.date_dir("intraday", DATE), "*.parquet")
