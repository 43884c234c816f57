"""MCP server: start-up, per-tool latency at 60 sessions x 500 underlyings, health_overview at
500 vs 5,000 underlyings, the server's overhead over DuckDB given the path, tokens per chain row.

Stores are synthetic, to the data contract (scripts/bench/synthetic_store.py): daily_clean
plus one intraday slot per underlying and session, 4 expiries x 10 strikes x 2 rights, the
newest session Friday 2026-11-20; the server's clock is pinned to the Saturday after
(OPT_DATA_NOW), so health_overview looks at that session. The real server answers over
stdio; server-side latency is each call's audit-row duration (from the request reaching
the server to its reply being ready), the round trip adds the client and the pipe.

    python -m scripts.bench.mcp_bench [--quick] [--keep DIR] [--tokenizer-json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any

from mcp import Client
from mcp.client.stdio import StdioServerParameters

from scripts.bench import mcp_tokens
from scripts.bench.synthetic_store import Shape, build_store, symbols_for
from shared.calendar import ET, NOW_ENV
from shared.config import load_config
from shared.ledger import LedgerReader
from shared.storage import Layout

SHAPE = Shape(expiries=4, strikes=10, intraday_slots=("10:00",), close_view=False)
# A fixed newest session, so the store and the answers are the same on any day it is built.
STORE_END = date(2026, 11, 20)
SERVER_NOW = datetime(2026, 11, 21, 10, 0, tzinfo=ET)
TARGETS_P95_MS = {"get_chain_sample": 10.0, "health_overview": 25.0}
TARGET_INIT_S = 1.0
TARGET_OVERHEAD = 2.0


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


def server_params(config: Path, audit: Path, tree: Path | None = None) -> StdioServerParameters:
    """This checkout's server, or (tree) the server of another checkout of the project, e.g.
    an older commit unpacked with `git archive`, run with the same interpreter."""
    env = {**os.environ, NOW_ENV: SERVER_NOW.isoformat()}
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "mcp_server", "--config", str(config), "--allow-raw", "--audit-db", str(audit)],
        env=env,
        cwd=str(tree) if tree is not None else None,
    )


# --- start-up ---------------------------------------------------------------------------------
def sdk_import(runs: int) -> list[float]:
    """Seconds for a bare `python -c "import mcp.server.mcpserver"`: what no server can avoid."""
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import mcp.server.mcpserver"], check=True)
        out.append(time.perf_counter() - t0)
    return out


def start_up(
    config: Path, audit: Path, runs: int, tree: Path | None = None
) -> dict[str, list[float]]:
    """Seconds from spawning `python -m mcp_server` to its initialize reply, and to tools/list."""
    params = server_params(config, audit, tree)
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18",
            "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}}}  # fmt: skip
    out: dict[str, list[float]] = {"initialize": [], "tools/list": [], "tools_list_bytes": []}
    for _ in range(runs):
        t0 = time.perf_counter()
        proc = subprocess.Popen([params.command, *params.args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, env=params.env, cwd=params.cwd)  # fmt: skip
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write((json.dumps(init) + "\n").encode())
        proc.stdin.flush()
        proc.stdout.readline()
        out["initialize"].append(time.perf_counter() - t0)
        for msg in ({"jsonrpc": "2.0", "method": "notifications/initialized"},
                    {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}):  # fmt: skip
            proc.stdin.write((json.dumps(msg) + "\n").encode())
        proc.stdin.flush()
        listed = proc.stdout.readline()
        out["tools/list"].append(time.perf_counter() - t0)
        out["tools_list_bytes"].append(float(len(listed)))
        proc.stdin.close()
        proc.wait(timeout=30)
        proc.stdout.close()
    return out


# --- latency ----------------------------------------------------------------------------------
async def mcp_calls(
    config: Path, audit: Path, requests: list[tuple[str, dict[str, Any]]], tree: Path | None = None
) -> tuple[list[float], dict[str, Any]]:
    rtt: list[float] = []
    sample: dict[str, Any] = {}
    async with Client(server_params(config, audit, tree), read_timeout_seconds=120) as client:
        await client.call_tool("health_overview", {})  # warm-up (imports, first ledger open)
        for tool, args in requests:
            t0 = time.perf_counter()
            result = await client.call_tool(tool, args)
            rtt.append((time.perf_counter() - t0) * 1000)
            if result.is_error:
                raise RuntimeError(f"{tool}{args}: {result.content}")
            if tool == "get_chain_sample" and not sample:
                sample = {"args": args, "text": result.content[0].text}  # type: ignore[union-attr]
    return rtt, sample


def audit_durations(audit: Path) -> dict[str, list[float]]:
    con = sqlite3.connect(audit)
    try:
        rows = con.execute("SELECT tool, duration_ms FROM calls ORDER BY id").fetchall()
    finally:
        con.close()
    out: dict[str, list[float]] = {}
    for tool, ms in rows[1:]:  # the first call is the warm-up
        out.setdefault(tool, []).append(ms)
    return out


def duckdb_path_times(layout: Layout, picks: list[tuple[str, date]]) -> list[float]:
    """DuckDB given the file: the same columns and row cap as get_chain_sample's defaults."""
    import duckdb

    con = duckdb.connect()
    cols = 'conid, expiry, strike, "right", bid, ask, mid, volume, open_interest, iv, delta, gamma'
    out = []
    for sym, day in picks:
        path = layout.chain_file("daily_clean", day, sym)
        t0 = time.perf_counter()
        con.execute(f"SELECT {cols} FROM read_parquet(?) LIMIT 100", [str(path)]).fetchall()
        out.append((time.perf_counter() - t0) * 1000)
    con.close()
    return out


def requests_for(layout: Layout, symbols: list[str], n: int, seed: int) -> tuple[list[tuple[str, dict[str, Any]]], list[tuple[str, date]]]:  # fmt: skip
    dates = LedgerReader(layout.ledger).partition_dates("daily_clean")
    rng = random.Random(seed)
    picks = [(rng.choice(symbols), rng.choice(dates)) for _ in range(n)]
    reqs: list[tuple[str, dict[str, Any]]] = [
        ("get_chain_sample", {"symbol": s, "date": d.isoformat(), "limit": 100}) for s, d in picks
    ]
    few = picks[: max(5, n // 6)]
    reqs += [("health_overview", {})] * max(10, n // 5)
    reqs += [("list_underlyings", {"limit": 500})] * max(3, n // 30)
    reqs += [("list_sessions", {"view": "intraday"})] * max(5, n // 10)
    reqs += [("list_expiries", {"symbol": s, "date": d.isoformat()}) for s, d in few]
    reqs += [("get_history_bars", {"symbol": s}) for s, _ in few]
    reqs += [("get_iv_smile", {"symbol": s, "date": d.isoformat()}) for s, d in few]
    reqs += [("get_oi_gamma_by_strike", {"symbol": s, "date": d.isoformat()}) for s, d in few]
    reqs += [("get_chain_sample", {"symbol": s, "date": "yesterday", "limit": 100}) for s, _ in few]
    return reqs, picks


BASELINE_TOOLS = ("get_chain_sample", "health_overview")  # what the old server also had


def bench_store(config: Path, calls: int, seed: int, tree: Path | None = None) -> dict[str, Any]:
    layout = Layout.from_config(load_config(config))
    symbols = symbols_for(len(load_universe_symbols(config)))
    reqs, picks = requests_for(layout, symbols, calls, seed)
    if tree is not None:
        reqs = [(t, a) for t, a in reqs if t in BASELINE_TOOLS and a.get("date") != "yesterday"]
    with tempfile.TemporaryDirectory() as tmp:
        audit = Path(tmp) / "audit.db"
        rtt, sample = asyncio.run(mcp_calls(config, audit, reqs, tree))
        server = audit_durations(audit)
    by_tool_rtt: dict[str, list[float]] = {}
    for (tool, _), ms in zip(reqs, rtt, strict=True):
        by_tool_rtt.setdefault(tool, []).append(ms)
    sessions = len(LedgerReader(layout.ledger).partition_dates("daily_clean"))
    return {"sessions": sessions, "symbols": len(symbols), "server": server, "rtt": by_tool_rtt,
            "duckdb_path": duckdb_path_times(layout, picks), "sample": sample, "layout": layout}  # fmt: skip


def load_universe_symbols(config: Path) -> list[str]:
    lines = (config.parent / "universe.csv").read_text().splitlines()[1:]
    return [ln.split(",")[0] for ln in lines if ln]


# --- report -----------------------------------------------------------------------------------
def latency_table(r: dict[str, Any]) -> tuple[str, bool]:
    ok = True
    lines = [
        f"Latency at {r['sessions']} sessions x {r['symbols']} underlyings (ms):\n",
        "| tool | calls | server p50 | server p95 | round trip p95 | target p95 |",
        "|---|---|---|---|---|---|",
    ]
    for tool, ms in r["server"].items():
        target = TARGETS_P95_MS.get(tool)
        p95 = pct(ms, 0.95)
        if target is not None:
            ok = ok and p95 <= target
        lines.append(f"| {tool} | {len(ms)} | {pct(ms, 0.5):.1f} | {p95:.1f} | "
                     f"{pct(r['rtt'][tool], 0.95):.1f} | {f'<= {target:g}' if target else ''} |")  # fmt: skip
    chain, duck = r["server"]["get_chain_sample"], r["duckdb_path"]
    ratio50, ratio95 = pct(chain, 0.5) / pct(duck, 0.5), pct(chain, 0.95) / pct(duck, 0.95)
    ok = ok and ratio50 <= TARGET_OVERHEAD
    lines.append(
        f"\nDuckDB given the path (same 12 columns, LIMIT 100), n={len(duck)}: p50 {pct(duck, 0.5):.1f} ms, "
        f"p95 {pct(duck, 0.95):.1f} ms. get_chain_sample / DuckDB-given-the-path: {ratio50:.2f}x at p50, "
        f"{ratio95:.2f}x at p95 (target <= {TARGET_OVERHEAD:g}x)."
    )
    return "\n".join(lines), ok


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="MCP server benchmark")
    p.add_argument("--symbols", type=int, default=500)
    p.add_argument("--sessions", type=int, default=60)
    p.add_argument("--wide-symbols", type=int, default=5000, help="health_overview scale check")
    p.add_argument("--calls", type=int, default=300, help="get_chain_sample calls (others scale)")
    p.add_argument("--starts", type=int, default=7)
    p.add_argument("--quick", action="store_true", help="small stores: a smoke run")
    p.add_argument("--keep", type=Path, default=None, help="build (or reuse) the stores here")
    p.add_argument("--tokenizer-json", type=Path, default=None)
    p.add_argument("--baseline-tree", type=Path, default=None,
                   help="another checkout (e.g. `git archive 7b28c69`) to measure side by side")  # fmt: skip
    args = p.parse_args([] if argv is None else argv)
    if args.quick:
        args.symbols, args.sessions, args.wide_symbols, args.calls, args.starts = 50, 5, 500, 60, 3
    base = args.keep or Path(tempfile.mkdtemp(prefix="opt-data-mcp-bench-"))
    ok = True
    try:
        t0 = time.perf_counter()
        main_cfg = ensure_store(
            base / f"store-{args.sessions}x{args.symbols}", args.sessions, args.symbols
        )
        small_cfg = ensure_store(base / f"store-2x{args.symbols}", 2, args.symbols)
        wide_cfg = ensure_store(base / f"store-2x{args.wide_symbols}", 2, args.wide_symbols)
        print(f"stores ready in {time.perf_counter() - t0:.0f} s", flush=True)

        with tempfile.TemporaryDirectory() as tmp:
            starts = start_up(main_cfg, Path(tmp) / "a.db", args.starts)
            old = (
                start_up(main_cfg, Path(tmp) / "b.db", args.starts, args.baseline_tree)
                if args.baseline_tree
                else None
            )
        sdk = sdk_import(args.starts)
        init = starts["initialize"]
        ok = ok and statistics.median(init) <= TARGET_INIT_S
        print(f"\nStart-up over stdio ({len(init)} starts each, interleaved with the machine's other work):\n"
              f"- this server: initialize median {statistics.median(init):.2f} s, best {min(init):.2f} s "
              f"(target <= {TARGET_INIT_S:g} s); tools/list median {statistics.median(starts['tools/list']):.2f} s, "
              f"{int(starts['tools_list_bytes'][0]):,} bytes\n"
              f"- the MCP SDK's import alone: median {statistics.median(sdk):.2f} s, best {min(sdk):.2f} s")  # fmt: skip
        if old is not None:
            print(f"- baseline ({args.baseline_tree.name}): initialize median {statistics.median(old['initialize']):.2f} s, "
                  f"best {min(old['initialize']):.2f} s; tools/list {int(old['tools_list_bytes'][0]):,} bytes")  # fmt: skip

        main_run = bench_store(main_cfg, args.calls, seed=args.sessions)
        table, good = latency_table(main_run)
        ok = ok and good
        print("\n" + table)
        if args.baseline_tree is not None:
            base_run = bench_store(
                main_cfg, args.calls, seed=args.sessions, tree=args.baseline_tree
            )
            for tool in BASELINE_TOOLS:
                a, b = base_run["server"][tool], main_run["server"][tool]
                print(f"- {tool}: baseline p50 {pct(a, 0.5):.1f} / p95 {pct(a, 0.95):.1f} ms, "
                      f"now p50 {pct(b, 0.5):.1f} / p95 {pct(b, 0.95):.1f} ms (same requests)")  # fmt: skip

        small = bench_store(small_cfg, max(30, args.calls // 5), seed=1)["server"][
            "health_overview"
        ]
        wide = bench_store(wide_cfg, max(30, args.calls // 5), seed=2)["server"]["health_overview"]
        print(f"\nhealth_overview, 2 sessions: {args.symbols} underlyings p50 {pct(small, 0.5):.1f} / p95 "
              f"{pct(small, 0.95):.1f} ms; {args.wide_symbols} underlyings p50 {pct(wide, 0.5):.1f} / p95 "
              f"{pct(wide, 0.95):.1f} ms (ratio {pct(wide, 0.5) / pct(small, 0.5):.2f} at p50)")  # fmt: skip

        sample = main_run["sample"]
        reply = json.loads(sample["text"])
        day = date.fromisoformat(sample["args"]["date"])
        path = main_run["layout"].chain_file("daily_clean", day, sample["args"]["symbol"])
        n = len(reply["rows"])
        counter = mcp_tokens.Counter(args.tokenizer_json)
        samples = {
            "before: 27 default columns, objects, indent=2": mcp_tokens.old_reply_rows(path, n),
            "old 27 columns as columns + row arrays": mcp_tokens.new_format_rows(
                path, n, mcp_tokens.OLD_DEFAULT_COLUMNS),
            "after: get_chain_sample reply rows (12 default fields)": mcp_tokens.reply_rows_text(reply),
            "after: whole get_chain_sample reply, per row": (sample["text"], n),
        }  # fmt: skip
        print("\nTokens per chain row:\n\n" + mcp_tokens.per_row_table(samples, counter))
    finally:
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)
    if args.quick:  # small stores on a smoke run: the figures show the bench works, no more
        print(json.dumps({"targets_met": ok, "judged": False}))
        return 0
    print(json.dumps({"targets_met": ok}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
