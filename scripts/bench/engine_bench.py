"""The snapshot engine against its own budget: contract counts, and beside a CPU hog.

    python -m scripts.bench.engine_bench [--counts 1000,5000,20000] [--hog-count 5000]
                                         [--baseline PATH]

Each run is one `opt-data snapshot` process over N real contracts against the simulator
in its own process with IB's limits (50 msg/s, 100 lines, realistic dwell), as in
scripts/bench/snapshot_bench.py. The engine's own budget is 49 messages per 1.05 s and
two messages per contract (request + cancel): 23.33 contracts/s. The run at
`--hog-count` is repeated beside a CPU hog (one process spinning at full speed, on a
2-core machine half the CPU) to show that a loaded machine neither loses budget nor
draws error 100/101. The rate is bound by messages, not dwell, so 20,000 contracts take
about 15 minutes: nothing is shortened.

`--baseline PATH` (another checkout of the project, e.g. a worktree of main) runs every
count for that tree too, at the same time as this tree's (each with its own simulator),
so both face the same machine; the table gives both and their ratio. `--hog-count 0`
skips the run beside the hog.

Where a run's window (plan -> finish) went beyond its messages' slots, from the run's
details: the part outside the engine's line loop (setup, the last file, the ledger), and
the budget's unused schedule inside it by cause: lost to wake-ups later than the one slot
of catch-up, and idle (nothing to send: the last lines' dwell). A tree whose run details
lack them shows nan.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from scripts.bench.snapshot_bench import (
    SimProcess,
    engine_window,
    prepare_contracts,
    run_snapshot_process,
    write_config,
)

OWN_BUDGET = 49 / 1.05 / 2  # contracts/s: 49 messages per 1.05 s, request + cancel
Result = dict[str, float]


def one_run(n: int, hog: bool, tree: Path | None = None) -> Result:
    sim = SimProcess(100, 50)
    spinner = None
    try:
        with tempfile.TemporaryDirectory(prefix="opt-data-engine-") as tmp:
            cfg = write_config(Path(tmp), sim.port, 100)
            got = asyncio.run(prepare_contracts(cfg, n))
            before = sim.stats()
            if hog:
                spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
                time.sleep(0.5)
            code, wall, cpu, rss = run_snapshot_process(cfg, tree)
            after = sim.stats()
            window, finish = engine_window(cfg)
    finally:
        if spinner is not None:
            spinner.kill()
            spinner.wait()
        sim.stop()
    errs = {int(k): v - before["errors_sent"].get(k, 0) for k, v in after["errors_sent"].items()}
    details = finish.get("details") or {}
    nan = float("nan")  # a tree whose run details lack the figure
    return {
        "loop": (details.get("throughput") or {}).get("collect_sec", nan),
        "late": details.get("budget_late_sec", nan), "idle": details.get("budget_idle_sec", nan),
        "n": got, "exit": code, "rate": got / window, "window": window, "wall": wall,
        "cpu_per_1000": cpu / got * 1000, "rss_mib": rss / 1024,
        "e100": errs.get(100, 0), "e101": errs.get(101, 0),
        "lines": after["max_concurrent_lines"], "status": finish["status"],
    }  # fmt: skip


def side_by_side(n: int, hog: bool, baseline: Path) -> tuple[Result, Result]:
    """This tree's run and the baseline's, at the same time (one hog serves both)."""
    out: dict[str, Result] = {}

    def go(key: str, tree: Path | None) -> None:
        out[key] = one_run(n, False, tree)

    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if hog else None
    try:
        threads = [
            threading.Thread(target=go, args=("before", baseline)),
            threading.Thread(target=go, args=("after", None)),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        if spinner is not None:
            spinner.kill()
            spinner.wait()
    return out["before"], out["after"]


def row(label: str, hog: bool, r: Result) -> str:
    share = r["rate"] / OWN_BUDGET
    return (
        f"| {label}{int(r['n']):,} | {'beside a CPU hog' if hog else 'quiet'} | {r['rate']:.2f} | "
        f"{share:.1%} | {int(r['e100'])}/{int(r['e101'])} | {r['cpu_per_1000']:.2f} | "
        f"{r['rss_mib']:.0f} | {r['window']:.1f} | {r['window'] - r['loop']:.1f} | "
        f"{r['late']:.2f} | {r['idle']:.2f} | {r['status']} |"
    )


def passed(r: Result) -> bool:
    return bool(
        r["rate"] / OWN_BUDGET >= 0.98 and r["e100"] == 0 and r["e101"] == 0 and r["exit"] == 0
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--counts", default="1000,5000,20000")
    p.add_argument("--hog-count", type=int, default=5000)
    p.add_argument("--baseline", type=Path, help="another checkout to run side by side")
    args = p.parse_args(argv)
    logging.getLogger("ib_async").setLevel(logging.CRITICAL)
    plan = [(int(c), False) for c in args.counts.split(",") if c]
    plan += [(args.hog_count, True)] if args.hog_count else []  # 0: no run beside the hog
    print(f"own budget: {OWN_BUDGET:.2f} contracts/s; IB's ceiling for streaming: 25/s")
    print("| contracts | machine | throughput /s | share of own budget | errors 100/101 | "
          "CPU s per 1,000 | peak RSS MiB | collection s | of it outside the line loop s | "
          "budget lost late s | budget idle s | status |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    ok = True
    ratios: list[str] = []
    for n, hog in plan:
        if args.baseline is None:
            r = one_run(n, hog)
            print(row("", hog, r), flush=True)
            ok &= passed(r)
            continue
        before, after = side_by_side(n, hog, args.baseline)
        print(row("before ", hog, before), flush=True)
        print(row("after ", hog, after), flush=True)
        ok &= passed(after)
        ratios.append(
            f"| {int(after['n']):,} | {'beside a CPU hog' if hog else 'quiet'} | "
            f"x{after['rate'] / before['rate']:.3f} | "
            f"x{after['cpu_per_1000'] / before['cpu_per_1000']:.2f} |"
        )
    if ratios:
        print("\n| contracts | machine | throughput after/before | CPU per 1,000 after/before |")
        print("|---|---|---|---|")
        print("\n".join(ratios))
    print(f"\nresult: {'PASS' if ok else 'FAIL'} (>= 98 % of own budget, no error 100/101)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
