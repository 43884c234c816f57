"""Sharded collection: 1, 2 and 4 collectors (one simulated gateway each) over one universe.

    python -m scripts.bench.shard_bench [--contracts 8000] [--shards 1,2,4]

Each simulator runs in its own process with IB's limits on (50 msg/s, 100 lines, realistic
dwell). The universe is --symbols generated stocks with the same number of near-the-money
contracts each, listed once and stored as the day's contract caches (the simulators are
deterministic, so every one knows the same conIds). For each shard count N, N
`opt-data snapshot --shard i/N` processes run at once, each against its own simulator and
client id, writing to one data root and one ledger (SQLite, or --ledger-url for Postgres).
Total throughput = contracts / (last finish - first plan), reported as a ratio to one
shard. CPU of every collector and simulator is read so the report can say at how many
shards the machine's cores, not IB's per-login limits, become the bound.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from scripts.bench.snapshot_bench import (
    DAY,
    SimProcess,
    prepare_contracts,
    snapshot_command,
)
from shared.config import AppConfig, load_config
from shared.storage import Layout
from shared.universe import shard_of

PER_LOGIN = 25.0  # contracts/s: 50 messages/s, a request and a cancel per contract
TICK = os.sysconf("SC_CLK_TCK")


def write_site(root: Path, symbols: list[str], port: int, client_id: int, shard: str,
               ledger_url: str | None) -> AppConfig:  # fmt: skip
    root.mkdir(parents=True, exist_ok=True)
    universe = root / "universe.csv"
    if not universe.exists():
        universe.write_text(
            "symbol,conid,sec_type,exchange,currency\n" + "".join(f"{s},,,,\n" for s in symbols)
        )
    index, count = shard.split("/")
    ledger = f'\n[ledger]\nurl = "{ledger_url}"\n' if ledger_url else ""
    path = root / f"shard{index}of{count}.toml"
    path.write_text(
        f'[ib]\nhost = "127.0.0.1"\nport = {port}\nclient_id = {client_id}\n'
        f'client_id_pool = "test"\n\n'
        f'[paths]\ndata = "{root}/data"\nstate = "{root}/state"\n\n'
        f'[universe]\nfile = "{universe}"\n\n[shard]\nindex = {index}\ncount = {count}\n' + ledger
    )
    return load_config(path, env={})


def proc_cpu(pid: int) -> float:
    """utime + stime of a live process, in seconds (/proc/<pid>/stat fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far (/proc/stat)."""
    parts = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = parts[3] + parts[4]
    return (sum(parts) - idle) / TICK, sum(parts) / TICK


def run_shards(root: Path, caches: Path, symbols: list[str], n: int, ledger_url: str | None,
               contracts: int) -> dict[str, Any]:  # fmt: skip
    sims = [SimProcess(100, 50) for _ in range(n)]
    try:
        cfgs = [
            write_site(root, symbols, sims[i].port, 201 + i, f"{i + 1}/{n}", ledger_url)
            for i in range(n)
        ]
        shutil.copytree(caches, Layout.from_config(cfgs[0]).contracts_cache, dirs_exist_ok=True)
        sim_cpu0 = [proc_cpu(s.proc.pid) for s in sims]  # type: ignore[arg-type]
        busy0, total0 = machine_busy()
        procs = [
            subprocess.Popen(
                snapshot_command(c), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            for c in cfgs
        ]
        collector_cpu = 0.0
        codes = []
        for p in procs:
            _, status, usage = os.wait4(p.pid, 0)
            codes.append(os.waitstatus_to_exitcode(status))
            collector_cpu += usage.ru_utime + usage.ru_stime
        busy1, total1 = machine_busy()
        sim_cpu = sum(proc_cpu(s.proc.pid) - c0 for s, c0 in zip(sims, sim_cpu0, strict=True))  # type: ignore[arg-type]
        errors = [s.stats()["errors_sent"] for s in sims]
    finally:
        for s in sims:
            s.stop()
    log = (
        Layout.from_config(cfgs[0]).task_log_dir("snapshot")
        / f"snapshot_{DAY.replace('-', '')}.jsonl"
    )
    events = [json.loads(line) for line in log.read_text().splitlines()]
    plans = [datetime.fromisoformat(e["ts"]) for e in events if e["event"] == "plan"]
    finishes = [e for e in events if e["event"] == "finish"]
    window = (max(datetime.fromisoformat(e["ts"]) for e in finishes) - min(plans)).total_seconds()
    per_shard = sorted(sum(1 for s in symbols if shard_of(s, n) == i + 1) for i in range(n))
    return {
        "shards": n,
        "exit_codes": codes,
        "statuses": [e["status"] for e in finishes],
        "window": window,
        "rate": contracts / window,
        "collector_cpu": collector_cpu,
        "sim_cpu": sim_cpu,
        "machine_busy_share": (busy1 - busy0) / max(total1 - total0, 1e-9),
        "symbols_per_shard": per_shard,
        "errors_100_101": sum(e.get("100", 0) + e.get("101", 0) for e in errors),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contracts", type=int, default=8000)
    parser.add_argument("--symbols", type=int, default=160)
    parser.add_argument("--shards", default="1,2,4")
    parser.add_argument(
        "--ledger-url", default=None, help="a postgresql:// ledger (default SQLite)"
    )
    args = parser.parse_args(argv)
    logging.getLogger("ib_async").setLevel(logging.CRITICAL)
    symbols = [f"B{i:03d}" for i in range(args.symbols)]
    counts = [int(x) for x in args.shards.split(",")]
    results = []
    with tempfile.TemporaryDirectory(prefix="opt-data-shards-") as tmp:
        base = Path(tmp)
        sim = SimProcess(100, 50)
        try:
            cfg = write_site(base / "prep", symbols, sim.port, 200, "1/1", None)
            t = time.monotonic()
            total = asyncio.run(prepare_contracts(cfg, args.contracts))
            print(
                f"listed {total} contracts of {len(symbols)} symbols in {time.monotonic() - t:.1f} s",
                flush=True,
            )
        finally:
            sim.stop()
        caches = Layout.from_config(cfg).contracts_cache
        for n in counts:
            r = run_shards(base / f"n{n}", caches, symbols, n, args.ledger_url, total)
            results.append(r)
            print(
                f"{n} shard(s): {r['rate']:.2f} contracts/s over {r['window']:.1f} s, exits {r['exit_codes']}",
                flush=True,
            )
    one = next((r["rate"] for r in results if r["shards"] == 1), results[0]["rate"])
    print("\n| shards | window s | total contracts/s | ratio to 1 shard | per-login ceiling x N | "
          "symbols per shard | CPU s per 1,000 contracts (collectors + simulators) | machine busy | errors 100/101 |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        cpu = (r["collector_cpu"] + r["sim_cpu"]) / total * 1000
        print(f"| {r['shards']} | {r['window']:.1f} | {r['rate']:.2f} | x{r['rate'] / one:.2f} | "
              f"{PER_LOGIN * r['shards']:.0f} | {r['symbols_per_shard']} | "
              f"{r['collector_cpu'] / total * 1000:.2f} + {r['sim_cpu'] / total * 1000:.2f} = {cpu:.2f} | "
              f"{r['machine_busy_share']:.0%} | {r['errors_100_101']} |")  # fmt: skip
    cores = os.cpu_count() or 1
    collector_cpu = sum(r["collector_cpu"] for r in results) / (total * len(results))
    sim_cpu = sum(r["sim_cpu"] for r in results) / (total * len(results))
    bound = cores / collector_cpu
    bound_with_sims = cores / (collector_cpu + sim_cpu)
    print(f"\ncollector CPU {collector_cpu * 1000:.2f} s per 1,000 contracts: {cores} cores carry "
          f"{bound:.0f} contracts/s of collectors = {bound / PER_LOGIN:.1f} logins at {PER_LOGIN:.0f}/s; "
          f"with the simulators on the same cores {bound_with_sims:.0f} contracts/s = "
          f"{bound_with_sims / PER_LOGIN:.1f} shards")  # fmt: skip
    ok = all(c == 0 for r in results for c in r["exit_codes"]) and all(
        r["errors_100_101"] == 0 for r in results
    )
    print(f"\nresult: {'PASS' if ok else 'FAIL'} (every collector exit 0, no error 100/101)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
