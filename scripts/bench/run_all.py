"""`make bench`: run every benchmark in turn, in one run; each prints its own tables.

    python -m scripts.bench.run_all [--quick]

`--quick` shrinks every size for a CI smoke run (about 5 minutes instead of about an
hour): the figures it prints show the benchmarks still work, not the performance.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time

# (module, arguments of the full run, arguments of --quick)
BENCHES: tuple[tuple[str, list[str], list[str]], ...] = (
    ("scripts.bench.scale_bench", [], ["--quick"]),
    ("scripts.bench.checks_bench", [], ["--quick", "--runs", "1"]),
    ("scripts.bench.discovery_bench", [], ["--strikes-per-side", "4"]),
    (
        "scripts.bench.engine_bench",
        ["--counts", "1000,5000,20000", "--hog-count", "5000"],
        ["--counts", "200", "--hog-count", "200"],
    ),
    ("scripts.bench.snapshot_bench", [], ["--contracts", "300", "--skip-reqtickers"]),
    ("scripts.bench.shard_bench", [], ["--contracts", "400", "--symbols", "16", "--shards", "1,2"]),
    ("scripts.bench.mcp_bench", [], ["--quick"]),
    (
        "scripts.bench.mcp_vol_bench",
        [],
        ["--symbols", "20", "--sessions", "3", "--calls", "5"],
    ),
    ("scripts.bench.mcp_s3_bench", [], ["--symbols", "10", "--sessions", "2", "--calls", "10"]),
    ("scripts.bench.datafs_bench", [], ["--files", "30"]),
    (
        "scripts.bench.ledger_index_bench",
        [],
        ["--underlyings", "50", "--days", "10", "--repeat", "2"],
    ),
)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small sizes: a smoke run for CI")
    args = p.parse_args(argv)
    failed = 0
    for name, full, quick in BENCHES:
        bench_args = quick if args.quick else full
        print(f"\n=== {name} {' '.join(bench_args)} ===", flush=True)
        t = time.monotonic()
        module = importlib.import_module(name)
        failed += int(module.main(bench_args) != 0)
        print(f"({name}: {time.monotonic() - t:.0f} s)", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
