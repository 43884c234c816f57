"""MCP query latency: get_chain_sample and health_overview over 10 and 60 sessions of history.

Two synthetic stores (500 underlyings; daily_clean + one intraday slot per underlying and
session) are served by the real server over stdio. Server-side latency is the duration
of each call's audit row; client round trips are shown beside it. DuckDB answers the same
questions over the same files in-process, once by globbing the hive tree (no ledger) and
once by opening the one file a path names. Ratios compare figures of the same run.

    python -m scripts.bench.mcp_bench [--symbols 500] [--sessions 10,60] [--keep DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from mcp import Client
from mcp.client.stdio import StdioServerParameters

from scripts.bench.synthetic_store import Shape, build_store, symbols_for
from shared.config import load_config
from shared.ledger import LedgerReader
from shared.storage import Layout

SHAPE = Shape(expiries=4, strikes=10, intraday_slots=("10:00",), close_view=False)
# A fixed newest session, so the store and the answers are the same on any day it is built.
STORE_END = date(2026, 11, 20)
TARGET_P95_MS = 50.0


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def ensure_store(root: Path, sessions: int, symbols: int) -> Path:
    config = root / "config" / "opt-data.toml"
    marker = root / ".complete"
    if marker.exists():
        return config
    shutil.rmtree(root, ignore_errors=True)
    t0 = time.perf_counter()
    build_store(root, sessions=sessions, symbols=symbols, shape=SHAPE, end=STORE_END)
    marker.write_text(f"{time.perf_counter() - t0:.1f}\n")
    return config


def store_dates(layout: Layout) -> list[date]:
    return LedgerReader(layout.ledger).partition_dates("daily_clean")


async def mcp_calls(
    config: Path, audit: Path, requests: list[tuple[str, dict[str, Any]]]
) -> list[float]:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "mcp_server", "--config", str(config), "--allow-raw", "--audit-db", str(audit)],
    )
    rtt: list[float] = []
    async with Client(params, read_timeout_seconds=120) as client:
        await client.call_tool("health_overview", {})  # warm-up (imports, first ledger open)
        for tool, args in requests:
            t0 = time.perf_counter()
            result = await client.call_tool(tool, args)
            rtt.append((time.perf_counter() - t0) * 1000)
            if result.is_error:
                raise RuntimeError(f"{tool}{args}: {result.content}")
    return rtt


def audit_durations(audit: Path, tool: str) -> list[float]:
    con = sqlite3.connect(audit)
    try:
        rows = con.execute(
            "SELECT duration_ms FROM calls WHERE tool=? ORDER BY id", (tool,)
        ).fetchall()
    finally:
        con.close()
    return [r[0] for r in rows[1:]] if tool == "health_overview" else [r[0] for r in rows]


def duckdb_times(
    layout: Layout, picks: list[tuple[str, date]], reps: int
) -> dict[str, list[float]]:
    import duckdb

    con = duckdb.connect()
    clean = f"{layout.clean}/ib/chain/view=daily_clean/*/*/*.parquet"
    intraday = f"{layout.raw}/ib/chain/view=intraday/*/*/*.parquet"
    cols = 'conid, expiry, strike, "right", bid, ask, mid, iv, delta, gamma, open_interest'
    out: dict[str, list[float]] = {"chain_glob": [], "chain_path": [], "health_glob": []}
    for sym, day in picks[:reps]:
        t0 = time.perf_counter()
        con.execute(
            f"SELECT {cols} FROM read_parquet('{clean}', hive_partitioning = true) "
            'WHERE date = ? AND underlying = ? ORDER BY expiry, strike, "right" LIMIT 100',
            [day, sym],
        ).fetchall()
        out["chain_glob"].append((time.perf_counter() - t0) * 1000)
    for sym, day in picks:
        path = layout.chain_file("daily_clean", day, sym)
        t0 = time.perf_counter()
        con.execute(f"SELECT {cols} FROM read_parquet(?) LIMIT 100", [str(path)]).fetchall()
        out["chain_path"].append((time.perf_counter() - t0) * 1000)
    health = (
        "WITH t AS (SELECT date, underlying, iv, delayed_fallback FROM read_parquet('{glob}', hive_partitioning = true)) "
        "SELECT date, count(DISTINCT underlying), count(*), avg((iv IS NOT NULL)::INT), sum(delayed_fallback::INT) "
        "FROM t WHERE date = (SELECT max(date) FROM t) GROUP BY date"
    )
    for _ in range(max(1, reps // 2)):
        t0 = time.perf_counter()
        for glob in (clean, intraday):
            con.execute(health.format(glob=glob)).fetchall()
        out["health_glob"].append((time.perf_counter() - t0) * 1000)
    con.close()
    return out


def bench_store(
    config: Path, n_chain: int, n_health: int, duck_reps: int, seed: int
) -> dict[str, Any]:
    layout = Layout.from_config(load_config(config))
    dates = store_dates(layout)
    symbols = symbols_for(
        len([ln for ln in (config.parent / "universe.csv").read_text().splitlines()[1:] if ln])
    )
    rng = random.Random(seed)
    picks = [(rng.choice(symbols), rng.choice(dates)) for _ in range(n_chain)]
    requests: list[tuple[str, dict[str, Any]]] = [
        ("get_chain_sample", {"symbol": s, "date": d.isoformat(), "limit": 100}) for s, d in picks
    ]
    requests += [("health_overview", {})] * n_health
    with tempfile.TemporaryDirectory() as tmp:
        audit = Path(tmp) / "audit.db"
        rtt = asyncio.run(mcp_calls(config, audit, requests))
        chain_ms = audit_durations(audit, "get_chain_sample")
        health_ms = audit_durations(audit, "health_overview")
    duck = duckdb_times(layout, picks, duck_reps)
    return {
        "sessions": len(dates), "symbols": len(symbols),
        "chain": chain_ms, "health": health_ms, "chain_rtt": rtt[:n_chain], "health_rtt": rtt[n_chain:], **duck,
    }  # fmt: skip


def report(results: list[dict[str, Any]]) -> tuple[str, bool]:
    ok = True
    lines = [
        "| history | tool | server p50 ms | server p95 ms | round trip p95 ms | DuckDB glob p50 ms | "
        "DuckDB path p50 ms | glob / server (p50) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        for tool, key, duck_glob, duck_path in (
            ("get_chain_sample", "chain", "chain_glob", "chain_path"),
            ("health_overview", "health", "health_glob", None),
        ):
            p50, p95 = pct(r[key], 0.5), pct(r[key], 0.95)
            ok = ok and p95 <= TARGET_P95_MS
            g50 = pct(r[duck_glob], 0.5)
            path50 = f"{pct(r[duck_path], 0.5):.1f}" if duck_path else "n/a"
            lines.append(
                f"| {r['sessions']} sessions x {r['symbols']} | {tool} (n={len(r[key])}) | {p50:.1f} | {p95:.1f} | "
                f"{pct(r[key + '_rtt'], 0.95):.1f} | {g50:.0f} | {path50} | {g50 / p50:.0f}x |"
            )
    if len(results) == 2:
        for key, tool in (("chain", "get_chain_sample"), ("health", "health_overview")):
            a, b = pct(results[0][key], 0.95), pct(results[1][key], 0.95)
            lines.append(
                f"\n{tool}: p95 {results[0]['sessions']} sessions {a:.1f} ms, "
                f"{results[1]['sessions']} sessions {b:.1f} ms (ratio {b / a:.2f})"
            )
    return "\n".join(lines), ok


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="MCP query latency benchmark")
    p.add_argument("--symbols", type=int, default=500)
    p.add_argument("--sessions", default="10,60", help="comma-separated history lengths")
    p.add_argument("--chain-calls", type=int, default=300)
    p.add_argument("--health-calls", type=int, default=60)
    p.add_argument("--duckdb-reps", type=int, default=10)
    p.add_argument(
        "--keep", type=Path, default=None, help="build (or reuse) the stores under this directory"
    )
    args = p.parse_args([] if argv is None else argv)
    base = args.keep or Path(tempfile.mkdtemp(prefix="opt-data-mcp-bench-"))
    results = []
    try:
        for n in (int(x) for x in args.sessions.split(",")):
            t0 = time.perf_counter()
            config = ensure_store(base / f"store-{n}x{args.symbols}", n, args.symbols)
            print(
                f"store {n} sessions x {args.symbols}: ready in {time.perf_counter() - t0:.0f} s",
                flush=True,
            )
            results.append(
                bench_store(config, args.chain_calls, args.health_calls, args.duckdb_reps, seed=n)
            )
    finally:
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)
    table, ok = report(results)
    print(table)
    print(json.dumps({"target_p95_ms": TARGET_P95_MS, "met": ok}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
