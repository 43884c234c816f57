"""Discovery: messages and errors 200 per discovered contract, before and after.

    python -m scripts.bench.discovery_bench [--strikes-per-side 25]

Against the simulator in its own process with IB's limits (50 msg/s), discovers SPX,
SPY and AAPL twice on one connection: the way it was before (qualify every pair of the
union of strikes reqSecDefOptParams returns, in batches of 40 through ib_async's
throttle) and the way it is now (one reqContractDetails per (expiry, right), strike
open, paced by the message budget). Messages are counted by the simulator.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from collector.ib import IBSession
from collector.pipeline.discovery import discover_symbol
from scripts.bench.snapshot_bench import DAY, SimProcess, write_config
from shared.universe import read_universe

SYMBOLS = ("SPX", "SPY", "AAPL")


def _delta(after: dict[str, Any], before: dict[str, Any]) -> tuple[int, int, int]:
    def err(d: dict[str, Any], code: int) -> int:
        return int(d["errors_sent"].get(code, d["errors_sent"].get(str(code), 0)))

    return (
        after["messages_received"] - before["messages_received"],
        err(after, 200) - err(before, 200),
        err(after, 100) - err(before, 100),
    )


async def _run(cfg: Any, sim: SimProcess, per_side: int) -> list[tuple[str, str, Any]]:
    from datetime import date

    day = date.fromisoformat(DAY)
    entries = {e.symbol: e for e in read_universe(cfg.universe.file)}
    rows = []
    async with IBSession(cfg.ib) as session:
        for listing, name in ((False, "before: qualify the union"), (True, "after: list")):
            for sym in SYMBOLS:
                await asyncio.sleep(1.1)  # a quiet second between runs
                before = sim.stats()
                t = time.monotonic()
                cache = await discover_symbol(
                    session, cfg, entries[sym], day, strikes_per_side=per_side, listing=listing
                )
                wall = time.monotonic() - t
                msgs, e200, e100 = _delta(sim.stats(), before)
                rows.append((name, sym, (len(cache.contracts), msgs, e200, e100, wall)))
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--strikes-per-side", type=int, default=25)
    args = p.parse_args(argv)
    logging.getLogger("ib_async").setLevel(logging.CRITICAL)  # errors are counted below
    sim = SimProcess(100, 50)
    try:
        with tempfile.TemporaryDirectory(prefix="opt-data-discovery-") as tmp:
            cfg = write_config(Path(tmp), sim.port, 100)
            (Path(tmp) / "universe.csv").write_text(
                "symbol,conid,sec_type,exchange,currency\n" + "".join(f"{s},,,,\n" for s in SYMBOLS)
            )
            rows = asyncio.run(_run(cfg, sim, args.strikes_per_side))
    finally:
        sim.stop()
    print(f"strikes_per_side = {args.strikes_per_side}, other discovery settings at their defaults")
    print("| method | symbol | contracts | messages | messages / contract | errors 200 | "
          "errors 200 / contract | errors 100 | wall s |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    bad = 0
    for name, sym, (n, msgs, e200, e100, wall) in rows:
        print(f"| {name} | {sym} | {n} | {msgs} | {msgs / max(n, 1):.3f} | {e200} | "
              f"{e200 / max(n, 1):.3f} | {e100} | {wall:.2f} |")  # fmt: skip
        if name.startswith("after") and (e100 or e200):
            bad += 1
    print(f"\nresult: {'PASS' if not bad else 'FAIL'} (after: no error 100, no error 200)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
