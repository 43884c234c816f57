"""Latency of the volatility and SQL tools at 60 sessions x 500 underlyings.

The same synthetic store as mcp_bench (daily_clean + one intraday slot per underlying and
session), served by the real server over stdio. Server-side latency is each call's audit
row; the PNG chart's extra cost is measured as its own case.

    python -m scripts.bench.mcp_vol_bench [--symbols 500] [--sessions 60] [--keep DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from mcp import Client
from mcp.client.stdio import StdioServerParameters

from scripts.bench.mcp_bench import ensure_store, pct
from scripts.bench.synthetic_store import symbols_for
from shared.config import load_config
from shared.ledger import LedgerReader
from shared.storage import Layout


def cases(
    symbols: list[str], dates: list[Any], n: int, seed: int
) -> list[tuple[str, str, dict[str, Any]]]:
    rng = random.Random(seed)
    out: list[tuple[str, str, dict[str, Any]]] = []
    for _ in range(n):
        s, d = rng.choice(symbols), rng.choice(dates).isoformat()
        out += [
            ("timeseries 60 sessions", "get_vol_timeseries", {"symbol": s, "sessions": 60}),
            ("timeseries intraday 20", "get_vol_timeseries",
             {"symbol": s, "view": "intraday", "each_slot": True, "sessions": 20}),
            ("timeseries + chart", "get_vol_timeseries", {"symbol": s, "sessions": 20, "chart": True}),
            ("surface", "get_vol_surface", {"symbol": s, "date": d}),
            ("surface + chart", "get_vol_surface", {"symbol": s, "date": d, "chart": True}),
            ("sql one date+symbol, view", "run_sql",
             {"sql": f"SELECT expiry, median(iv) FROM daily_clean WHERE date = DATE '{d}' "
                     f"AND underlying = '{s}' GROUP BY 1 ORDER BY 1"}),
            ("sql one date+symbol, macro", "run_sql",
             {"sql": f"SELECT expiry, median(iv) FROM daily_clean_on('{d}', '{s}') "
                     "GROUP BY 1 ORDER BY 1"}),
        ]  # fmt: skip
    return out


def sql_whole_history(dates: list[Any]) -> tuple[str, str, dict[str, Any]]:
    sql = "SELECT date, count(*) AS n FROM daily_clean GROUP BY 1 ORDER BY 1"
    return ("sql all files (group by date)", "run_sql", {"sql": sql})


async def run_calls(
    config: Path, audit: Path, requests: list[tuple[str, dict[str, Any]]]
) -> list[float]:
    """Round trips of each call (a refused or timed-out call counts too: its audit row says so)."""
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "mcp_server", "--config", str(config), "--allow-raw", "--audit-db", str(audit)],
    )
    rtt: list[float] = []
    async with Client(params, read_timeout_seconds=120) as client:
        await client.call_tool("list_underlyings", {"limit": 1})  # warm-up
        for tool, args in requests:
            t0 = time.perf_counter()
            await client.call_tool(tool, args)
            rtt.append((time.perf_counter() - t0) * 1000)
    return rtt


def audit_by_call(audit: Path) -> list[tuple[float, str]]:
    con = sqlite3.connect(audit)
    try:
        rows = con.execute("SELECT duration_ms, status FROM calls ORDER BY id").fetchall()
    finally:
        con.close()
    return [(float(r[0]), str(r[1])) for r in rows[1:]]  # the first is the warm-up call


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--symbols", type=int, default=500)
    p.add_argument("--sessions", type=int, default=60)
    p.add_argument("--calls", type=int, default=20, help="calls per case")
    p.add_argument("--keep", type=Path, default=None, help="build (or reuse) the store here")
    args = p.parse_args([] if argv is None else argv)
    base = args.keep or Path(tempfile.mkdtemp(prefix="opt-data-vol-bench-"))
    try:
        t0 = time.perf_counter()
        config = ensure_store(
            base / f"store-{args.sessions}x{args.symbols}", args.sessions, args.symbols
        )
        print(
            f"store {args.sessions} sessions x {args.symbols}: ready in {time.perf_counter() - t0:.0f} s",
            flush=True,
        )
        layout = Layout.from_config(load_config(config))
        dates = LedgerReader(layout.ledger).partition_dates("daily_clean")
        plan = cases(symbols_for(args.symbols), dates, args.calls, seed=args.sessions)
        plan += [sql_whole_history(dates)] * 3
        with tempfile.TemporaryDirectory() as tmp:
            audit = Path(tmp) / "audit.db"
            rtt = asyncio.run(run_calls(config, audit, [(tool, a) for _, tool, a in plan]))
            server = audit_by_call(audit)
    finally:
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)
    by_case: dict[str, list[tuple[float, float, str]]] = {}
    for (name, _, _), ms, (server_ms, status) in zip(plan, rtt, server, strict=True):
        by_case.setdefault(name, []).append((server_ms, ms, status))
    print(
        f"| {len(dates)} sessions x {args.symbols} | calls | server p50 ms | server p95 ms | round trip p95 ms |"
    )
    print("|---|---|---|---|---|")
    for name, rows in by_case.items():
        srv = [r[0] for r in rows]
        bad = sum(1 for r in rows if r[2] not in ("ok", "clamped"))
        print(f"| {name} | {len(rows)}{f' ({bad} failed)' if bad else ''} | {pct(srv, 0.5):.1f} | "
              f"{pct(srv, 0.95):.1f} | {pct([r[1] for r in rows], 0.95):.1f} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
