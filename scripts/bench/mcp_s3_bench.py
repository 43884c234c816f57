"""MCP server latency on an object-store data root against the same data on the local disk.

One synthetic store (scripts/bench/synthetic_store.py, the MCP benchmark's shape) is put on
an S3-compatible server on 127.0.0.1 (moto's standalone server, started here) with one PUT
per file; two real stdio servers then answer the same requests, one over the local tree
and one over s3://bucket/data with a copy of the ledger. Server-side latency is each call's
audit-row duration. moto runs in this process and answers from memory: a real object
store adds its network round trips (about 10-30 ms a request in the same region), so the
S3 figures here are the client-side cost (requests made, bytes parsed), not AWS's.

    python -m scripts.bench.mcp_s3_bench [--symbols 50] [--sessions 5] [--calls 60]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from scripts.bench.mcp_bench import STORE_END, audit_durations, ensure_store, mcp_calls, pct
from scripts.bench.synthetic_store import symbols_for
from shared.config import load_config
from shared.datafs import data_root, list_files, write_bytes
from shared.ledger import LedgerReader
from shared.storage import Layout


def start_s3() -> Any:
    from moto.server import ThreadedMotoServer

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    os.environ.update(AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}", AWS_ACCESS_KEY_ID="bench",
                      AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1")  # fmt: skip
    return server


def put_on_bucket(config: Path, site: Path) -> tuple[Path, int]:
    """The store's tree on s3://opt-data-bench/data and a config + ledger copy pointing there."""
    import boto3

    boto3.client("s3").create_bucket(Bucket="opt-data-bench")
    local = Layout.from_config(load_config(config))
    assert isinstance(local.data, Path)
    target = data_root("s3://opt-data-bench/data")
    n = 0
    for entry in list_files(local.data):
        assert isinstance(entry.path, Path)
        rel = entry.path.relative_to(local.data).as_posix().split("/")
        write_bytes(target.joinpath(*rel), entry.path.read_bytes())
        n += 1
    shutil.copytree(config.parent, site / "config")
    shutil.copytree(local.state, site / "state")
    toml = site / "config" / "opt-data.toml"
    toml.write_text(toml.read_text().replace('data = "data"', 'data = "s3://opt-data-bench/data"'))
    return toml, n


def requests(config: Path, calls: int) -> list[tuple[str, dict[str, Any]]]:
    layout = Layout.from_config(load_config(config))
    dates = LedgerReader(layout.ledger).partition_dates("daily_clean")
    symbols = symbols_for(len((config.parent / "universe.csv").read_text().splitlines()) - 1)
    rng = random.Random(7)
    picks = [(rng.choice(symbols), rng.choice(dates).isoformat()) for _ in range(calls)]
    few = picks[: max(5, calls // 6)]
    out: list[tuple[str, dict[str, Any]]] = [
        ("get_chain_sample", {"symbol": s, "date": d, "limit": 100}) for s, d in picks
    ]
    out += [("health_overview", {})] * max(5, calls // 10)
    out += [("get_history_bars", {"symbol": s}) for s, _ in few]
    out += [("get_iv_smile", {"symbol": s, "date": d}) for s, d in few]
    out += [("get_vol_timeseries", {"symbol": s, "sessions": 5}) for s, _ in few]
    out += [("get_partition_issues", {"days": 1})] * 3
    out += [("run_sql", {"sql": f"SELECT count(*) FROM daily_clean_on('{d}', '{s}')"})
            for s, d in few]  # fmt: skip
    out += [("run_sql", {"sql": "SELECT underlying, count(*) FROM daily_clean GROUP BY ALL"})] * 3
    return out


def run(
    config: Path, reqs: list[tuple[str, dict[str, Any]]], audit: Path
) -> dict[str, list[float]]:
    asyncio.run(mcp_calls(config, audit, reqs))
    out = audit_durations(audit)
    # run_sql's calls are the `_on` macro ones first, then the whole-view ones (see requests)
    whole = sum(1 for t, a in reqs if t == "run_sql" and "_on(" not in a["sql"])
    sql = out.pop("run_sql")
    out["run_sql daily_clean_on(date, symbol)"] = sql[:-whole]
    out["run_sql whole daily_clean view"] = sql[-whole:]
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="MCP server: local root against an S3 root")
    p.add_argument("--symbols", type=int, default=50)
    p.add_argument("--sessions", type=int, default=5)
    p.add_argument("--calls", type=int, default=60, help="get_chain_sample calls (others scale)")
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    server = start_s3()
    with tempfile.TemporaryDirectory(prefix="opt-data-s3-bench-") as tmp:
        base = Path(tmp)
        config = ensure_store(base / "store", args.sessions, args.symbols)
        t0 = time.perf_counter()
        s3_config, files = put_on_bucket(config, base / "s3site")
        print(f"store {args.sessions} sessions x {args.symbols} underlyings ({STORE_END} newest), "
              f"{files} files put on the bucket in {time.perf_counter() - t0:.1f} s")  # fmt: skip
        reqs = requests(config, args.calls)
        local = run(config, reqs, base / "local.db")
        remote = run(s3_config, reqs, base / "s3.db")
    server.stop()
    print("\n| tool | calls | local p50 ms | local p95 ms | S3 p50 ms | S3 p95 ms | S3/local p50 |")
    print("|---|---|---|---|---|---|---|")
    for tool, ms in local.items():
        s3 = remote[tool]
        print(f"| {tool} | {len(ms)} | {pct(ms, 0.5):.1f} | {pct(ms, 0.95):.1f} | "
              f"{pct(s3, 0.5):.1f} | {pct(s3, 0.95):.1f} | {pct(s3, 0.5) / pct(ms, 0.5):.1f}x |")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
