"""Rollup and `compact --day` of one realistic session: another checkout against this one.

    python -m scripts.bench.scale_ab BASELINE_DIR [--symbols 500] [--runs 3]

BASELINE_DIR is another checkout of the project (e.g. `git worktree add /tmp/base main`),
run with this interpreter. The rollup of one session (scripts/bench/scale_session.py) runs
alternately with the baseline's code and this checkout's, `--runs` times each, every run
in its own process (job time apart from imports and the calendar's first load, CPU and
peak RSS from wait4, as in scripts/bench/scale_bench.py); both outputs must be equal.
Compaction changes its session, so two sessions are written and each side compacts one.
The medians and their ratios are printed.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from scripts.bench.scale_bench import launch, run_child
from scripts.bench.scale_session import write_session

HERE = Path(__file__).resolve().parents[2]


def _daily(root: Path) -> pa.Table:
    files = sorted((root / "data" / "clean").rglob("part.parquet"))
    return pa.concat_tables([pq.read_table(f) for f in files])


def _compact(tree: Path, config: Path, day: str) -> tuple[float, float, float]:
    cmd = [sys.executable, "-m", "collector.cli.main", "compact", "--day", day,
           "--config", str(config)]  # fmt: skip
    r = launch(cmd, cwd=tree)
    if r["exit"] != 0:
        raise SystemExit(f"compact in {tree} failed ({r['exit']})")
    return r["wall"], r["cpu"], r["rss"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("baseline", type=Path)
    p.add_argument("--symbols", type=int, default=500)
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args(argv)
    trees = {"baseline": args.baseline.resolve(), "this": HERE}
    root = Path(tempfile.mkdtemp(prefix="opt-data-ab-"))
    try:
        one = write_session(root / "a", args.symbols)
        day = one.day.isoformat()
        runs: dict[str, list[tuple[float, float, float]]] = {k: [] for k in trees}
        outputs: dict[str, pa.Table] = {}
        for _ in range(args.runs):
            for name, tree in trees.items():
                shutil.rmtree(root / "a" / "data" / "clean", ignore_errors=True)
                r = run_child("rollup", one.config, one.day, cwd=tree)
                runs[name].append((r.job_s, r.cpu_s, r.peak_mib))
                outputs[name] = _daily(root / "a")
        same = outputs["baseline"].equals(outputs["this"])
        print(f"## Rollup of {one.intraday_rows:,} intraday rows, medians of {args.runs} "
              "alternate runs\n| code | job s | process CPU s | peak RSS MiB |\n|---|---|---|---|")  # fmt: skip
        med = {k: [statistics.median(x[i] for x in v) for i in range(3)] for k, v in runs.items()}
        for name, (job, cpu, rss) in med.items():
            print(f"| {name} | {job:.2f} | {cpu:.2f} | {rss:.0f} |")
        print(f"this / baseline: job {med['this'][0] / med['baseline'][0]:.2f}, "
              f"CPU {med['this'][1] / med['baseline'][1]:.2f}; outputs equal: {same}")  # fmt: skip

        two = write_session(root / "b", args.symbols)
        base = _compact(trees["baseline"], one.config, day)
        this = _compact(trees["this"], two.config, day)
        print("\n## `opt-data compact --day` (each side its own copy of the session)\n"
              "| code | wall s | CPU s | peak RSS MiB |\n|---|---|---|---|")  # fmt: skip
        for name, (wall, cpu, rss) in (("baseline", base), ("this", this)):
            print(f"| {name} | {wall:.2f} | {cpu:.2f} | {rss:.0f} |")
        print(f"this / baseline: wall {this[0] / base[0]:.2f}, CPU {this[1] / base[1]:.2f}")
        return 0 if same else 1
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
