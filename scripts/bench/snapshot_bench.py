"""Snapshot throughput against the simulated gateway with IB's limits on.

    python -m scripts.bench.snapshot_bench [--contracts 5000]

The simulator runs in its own process (50 msg/s, 100 lines, realistic dwell: log-normal,
median 1 s, 0.3-3 s). The harness lists N real option contracts, writes them as the
day's contract caches, then times one `opt-data snapshot` subprocess over them and reads
the simulator's counters. The same contracts are then fetched with ib_async's reqTickers
(chunks of 100 lines) on a fresh connection, for the ratio. The simulator is the faithful
one: a snapshot ends 11 s after its request, as IB's does, so each reqTickers chunk takes
at least 11 s. Ceiling = min(25 contracts/s, lines / median dwell); the engine must
sustain >= 90 % of it with no error 100 or 101.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from collector.ib import IBSession, OptionContract
from collector.ib.contracts import chain_params, list_expiry_options, reference_price
from collector.ib.marketdata import snapshot_quotes
from collector.pipeline.discovery import ContractCache, resolve_underlying, save_cache
from shared.calendar import ET
from shared.config import AppConfig, load_config
from shared.storage import Layout
from shared.universe import read_universe

DAY = "2026-11-18"
SLOT = "11:00"
CLOCK = datetime(2026, 11, 18, 11, 0, tzinfo=ET)
SYMBOLS = ("SPY", "QQQ", "AAPL", "MSFT", "NVDA", "TSLA", "SPX")
MEDIAN_DWELL = 1.0  # the simulator's default DwellConfig.median
LIBRARY_THROTTLE = 45  # ib_async's Client.MaxRequests default


# --- the simulator in its own process (no GIL shared with the collector) ---------------------
def _serve_sim(conn: Connection, max_lines: int, rate: int) -> None:
    from collector.gateway_sim import GatewaySim, SimConfig

    async def main() -> None:
        gc.freeze()  # keep long GC pauses out of the simulated gateway's receive timing
        sim = GatewaySim(SimConfig(clock_start=CLOCK, max_lines=max_lines, msg_rate_limit=rate))
        conn.send(await sim.start())
        loop = asyncio.get_running_loop()
        while True:
            cmd = await loop.run_in_executor(None, conn.recv)
            if cmd == "stats":
                conn.send(sim.stats.as_dict())
            else:
                break
        await sim.stop()

    asyncio.run(main())


class SimProcess:
    def __init__(self, max_lines: int, rate: int) -> None:
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve_sim, args=(child, max_lines, rate), daemon=True)
        self.proc.start()
        self.port = int(self.conn.recv())

    def stats(self) -> dict[str, Any]:
        self.conn.send("stats")
        return dict(self.conn.recv())

    def stop(self) -> None:
        self.conn.send("stop")
        self.proc.join(15)


# --- preparation ------------------------------------------------------------------------------
def write_config(root: Path, port: int, max_lines: int) -> AppConfig:
    (root / "universe.csv").write_text(
        "symbol,conid,sec_type,exchange,currency\n" + "".join(f"{s},,,,\n" for s in SYMBOLS)
    )
    path = root / "bench.toml"
    path.write_text(
        f'[ib]\nhost = "127.0.0.1"\nport = {port}\nclient_id_pool = "test"\n\n'
        f'[paths]\ndata = "{root}/data"\nstate = "{root}/state"\n\n'
        f'[universe]\nfile = "{root}/universe.csv"\n\n[snapshot]\nmax_lines = {max_lines}\n'
    )
    return load_config(path, env={})


async def prepare_contracts(cfg: AppConfig, total: int) -> int:
    """List real contracts near the money, expiry by expiry, and store them as the caches:
    `total` shared evenly by the universe's symbols. Returns how many were stored."""
    entries = read_universe(cfg.universe.file)
    per_symbol = -(-total // len(entries))
    left = total
    day = datetime.fromisoformat(DAY).date()
    layout = Layout.from_config(cfg)
    async with IBSession(cfg.ib) as ib:
        for entry in entries:
            ref = await resolve_underlying(ib, entry)
            price = await reference_price(ib, ref)
            assert price is not None, f"no price for {entry.symbol}"
            rows = sorted(
                (
                    (e, c.trading_class)
                    for c in await chain_params(ib, ref)
                    if c.exchange == "SMART"
                    for e in c.expirations
                    if e >= DAY.replace("-", "")
                ),
            )
            picked: list[OptionContract] = []
            for expiry, trading_class in rows:
                if len(picked) >= min(per_symbol, left):
                    break
                options = await list_expiry_options(ib, ref, expiry, trading_class)
                near = sorted(options, key=lambda c: (abs(c.strike - price), c.strike, c.right))
                picked.extend(near[: min(per_symbol, left) - len(picked)])
            left -= len(picked)
            save_cache(layout, ContractCache(entry.symbol, day, ref, price, tuple(picked)))
    return total - left


def snapshot_command(cfg: AppConfig) -> list[str]:
    """`opt-data snapshot` of the bench's day and slot, as a subprocess command line."""
    return [sys.executable, "-m", "collector.cli.main", "snapshot", "--date", DAY,
            "--slot", SLOT, "--config", str(cfg.source_file)]  # fmt: skip


def run_snapshot_process(cfg: AppConfig, tree: Path | None = None) -> tuple[int, float, float, int]:
    """(exit code, wall s, CPU s, peak RSS KiB) of one `opt-data snapshot` process; `tree`:
    run another checkout's code instead (its modules come first on the path), e.g. to
    compare before and after side by side."""
    start = time.monotonic()
    proc = subprocess.Popen(
        snapshot_command(cfg), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tree
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss


def engine_window(cfg: AppConfig) -> tuple[float, dict[str, Any]]:
    """Seconds from the run's plan to its finish (the collection itself), and its details."""
    log = (
        Layout.from_config(cfg).task_log_dir("snapshot") / f"snapshot_{DAY.replace('-', '')}.jsonl"
    )
    events = [json.loads(line) for line in log.read_text().splitlines()]
    plan = next(e for e in events if e["event"] == "plan")
    finish = next(e for e in events if e["event"] == "finish")
    t0 = datetime.fromisoformat(plan["ts"])
    t1 = datetime.fromisoformat(finish["ts"])
    return (t1 - t0).total_seconds(), finish


async def reqtickers_run(cfg: AppConfig, chunk: int) -> tuple[int, int, float]:
    """(contracts, complete quotes with greeks, wall s) with ib_async's reqTickers."""
    layout = Layout.from_config(cfg)
    contracts = [
        OptionContract.from_json(c)
        for f in sorted(layout.contracts_cache.glob(f"*_{DAY}.json"))
        for c in json.loads(f.read_text())["contracts"]
    ]
    # ib_async as most users run it: its default throttle (45 requests per second).
    async with IBSession(cfg.ib, max_messages_per_sec=LIBRARY_THROTTLE) as ib:
        start = time.monotonic()
        quotes = await snapshot_quotes(ib, contracts, chunk=chunk, timeout=120)
        wall = time.monotonic() - start
    complete = sum(1 for q in quotes if q is not None and q.model is not None and q.bid == q.bid)
    return len(contracts), complete, wall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--contracts", type=int, default=5000, help="contracts in the snapshot (default 5000)"
    )
    parser.add_argument("--max-lines", type=int, default=100)
    parser.add_argument("--msg-rate", type=int, default=50, help="the simulator's message limit")
    parser.add_argument("--skip-reqtickers", action="store_true")
    args = parser.parse_args(argv)
    logging.getLogger("ib_async").setLevel(logging.CRITICAL)  # IB errors are counted below
    sim = SimProcess(args.max_lines, args.msg_rate)
    try:
        with tempfile.TemporaryDirectory(prefix="opt-data-bench-") as tmp:
            cfg = write_config(Path(tmp), sim.port, args.max_lines)
            t = time.monotonic()
            n = asyncio.run(prepare_contracts(cfg, args.contracts))
            print(f"prepared {n} contracts in {time.monotonic() - t:.1f} s", flush=True)
            before = sim.stats()
            code, wall, cpu, rss = run_snapshot_process(cfg)
            after = sim.stats()
            window, finish = engine_window(cfg)
            errors = {
                int(k): v - before["errors_sent"].get(k, 0) for k, v in after["errors_sent"].items()
            }
            lim_errors = errors.get(100, 0) + errors.get(101, 0)
            rate = n / window
            ceiling = min(25.0, args.max_lines / MEDIAN_DWELL, args.msg_rate / 2)
            ratio_ceiling = rate / ceiling
            rt = None
            if not args.skip_reqtickers:
                before_rt = sim.stats()
                rt_n, rt_complete, rt_wall = asyncio.run(reqtickers_run(cfg, args.max_lines))
                after_rt = sim.stats()
                rt_errors = {
                    int(k): v - before_rt["errors_sent"].get(k, 0)
                    for k, v in after_rt["errors_sent"].items()
                }
                rt = (rt_n, rt_complete, rt_wall, rt_errors)
    finally:
        sim.stop()
    print("\n| measure | value |\n|---|---|")
    print(f"| contracts | {n} |")
    print(f"| snapshot status | {finish['status']} (exit {code}); {finish['message']} |")
    print(f"| collection window (plan -> finish) | {window:.1f} s |")
    print(f"| throughput | {rate:.2f} contracts/s |")
    print(f"| ceiling min(25, lines/median dwell) | {ceiling:.2f} contracts/s |")
    print(f"| share of ceiling | {ratio_ceiling:.1%} |")
    print(f"| whole command wall (start-up, connect, prices, writes) | {wall:.1f} s |")
    print(f"| CPU per 1,000 contracts | {cpu / n * 1000:.2f} s |")
    print(f"| peak RSS of the snapshot process | {rss / 1024:.0f} MiB |")
    print(f"| errors 100 / 101 from the simulator | {errors.get(100, 0)} / {errors.get(101, 0)} |")
    print(f"| max concurrent lines seen by the simulator | {after['max_concurrent_lines']} |")
    if rt is not None:
        rt_n, rt_complete, rt_wall, rt_errors = rt
        rt_rate = rt_complete / rt_wall
        complete = (finish.get("details") or {}).get("timed_out", n)
        print(
            f"| reqTickers (chunks of {args.max_lines}): complete / wall | {rt_complete}/{rt_n} in {rt_wall:.1f} s "
            f"= {rt_rate:.2f} complete contracts/s; errors {rt_errors} |"
        )
        engine_complete = n - complete
        print(
            f"| engine complete contracts/s vs reqTickers | {engine_complete / window:.2f} vs {rt_rate:.2f} "
            f"= x{(engine_complete / window) / rt_rate:.2f} |"
        )
    ok = code == 0 and lim_errors == 0 and ratio_ceiling >= 0.9
    print(f"\nresult: {'PASS' if ok else 'FAIL'} (>= 90 % of ceiling, no error 100/101)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
