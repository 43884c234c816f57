"""`make bench`: run every benchmark in turn; each prints its own table."""

from __future__ import annotations

import importlib
import sys

BENCHES = ("scripts.bench.snapshot_bench", "scripts.bench.shard_bench", "scripts.bench.mcp_bench")


def main() -> int:
    failed = 0
    for name in BENCHES:
        print(f"\n=== {name} ===", flush=True)
        module = importlib.import_module(name)
        failed += int(module.main() != 0)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
