"""qa, selfcheck, `opt-data --help` and the MCP server's start, side by side with another tree.

    python -m scripts.bench.checks_bench [--quick] [--keep DIR] [--runs N] [--baseline-tree DIR]

Writes (or, with --keep DIR holding one already, reuses) the scale session of
scripts/bench/scale_session.py (500 underlyings x 14 slots x 390 contracts = 7,000 slot
files, 2.73M rows; --quick: 50 underlyings), then runs each command N times, each run in
its own process, alternating between this tree and --baseline-tree (another checkout,
e.g. `git archive <commit> | tar -x -C DIR`, run with the same interpreter from its own
directory). It reports the median and best CPU (user + system, wait4) and wall, peak RSS,
and the ratio this / baseline of the median CPU. The MCP server's start is timed from
spawning `python -m mcp_server` (stdio) to its `initialize` reply, its CPU read from /proc
at the reply, beside the SDK's bare import (`import mcp.server.mcpserver`).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scripts.bench.scale_bench import LAUNCHER
from scripts.bench.scale_session import DAY, write_session

HERE = Path(__file__).resolve().parents[2]
INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18",
        "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}}}  # fmt: skip


def launch(cmd: list[str], cwd: Path) -> tuple[float, float, float, int]:
    """(wall s, CPU s, peak RSS MiB, exit) of one command run from `cwd` (its tree)."""
    done = subprocess.run([sys.executable, "-c", LAUNCHER, *cmd], capture_output=True, text=True,
                          cwd=cwd)  # fmt: skip
    r = json.loads(done.stdout)
    return r["wall"], r["cpu"], r["rss"], r["exit"]


def initialize(config: Path, cwd: Path) -> tuple[float, float, float, int]:
    """(wall s to the initialize reply, CPU s of the server at that moment, RSS MiB, 0)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "mcp_server", "--config", str(config)], cwd=cwd,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write((json.dumps(INIT) + "\n").encode())
    proc.stdin.flush()
    reply = proc.stdout.readline()
    wall = time.perf_counter() - t0
    stat = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
    rss = int(stat[21]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    proc.stdin.close()
    proc.wait(timeout=60)
    proc.stdout.close()
    return wall, cpu, rss, 0 if b'"result"' in reply else 1


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="50 underlyings (a CI smoke run)")
    p.add_argument("--keep", type=Path, default=None, help="write the session here (or reuse it)")
    p.add_argument("--runs", type=int, default=5, help="runs of each command per tree")
    p.add_argument("--baseline-tree", type=Path, default=None, help="another checkout to compare")
    args = p.parse_args(argv)
    root = args.keep or Path(tempfile.mkdtemp(prefix="opt-data-checks-"))
    try:
        return _run(args, root)
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


def _run(args: argparse.Namespace, root: Path) -> int:
    config = root / "config" / "opt-data.toml"
    if not config.is_file():
        t0 = time.perf_counter()
        write_session(root, 50 if args.quick else 500)
        print(f"session written in {time.perf_counter() - t0:.0f} s", flush=True)
    day = DAY.isoformat()
    cli = [sys.executable, "-m", "collector.cli.main"]
    commands = {
        "`opt-data qa`": [*cli, "qa", "--date", day, "--config", str(config)],
        "`opt-data selfcheck`": [*cli, "selfcheck", "--date", day, "--config", str(config)],
        "`opt-data --help`": [*cli, "--help"],
        "MCP server (stdio): `initialize` answered": [],
        "`import mcp.server.mcpserver` (the SDK alone)": [sys.executable, "-c",
                                                          "import mcp.server.mcpserver"],
    }  # fmt: skip
    trees = {"this tree": HERE}
    if args.baseline_tree:
        trees["baseline"] = args.baseline_tree.resolve()
    runs: dict[tuple[str, str], list[tuple[float, float, float, int]]] = {}
    for _ in range(args.runs):
        for name, cmd in commands.items():
            for tree, cwd in trees.items():
                r = launch(cmd, cwd) if cmd else initialize(config, cwd)
                runs.setdefault((name, tree), []).append(r)
    print("| command | tree | CPU s median | CPU s best | wall s median | wall s best | "
          "peak RSS MiB | exit |\n|---|---|---|---|---|---|---|---|")  # fmt: skip
    failed = False
    for (name, tree), rs in runs.items():
        cpu, wall = [r[1] for r in rs], [r[0] for r in rs]
        exits = sorted({r[3] for r in rs})
        failed |= name.endswith("answered") and exits != [0]
        print(f"| {name} | {tree} | {statistics.median(cpu):.2f} | {min(cpu):.2f} | "
              f"{statistics.median(wall):.2f} | {min(wall):.2f} | {max(r[2] for r in rs):.0f} | "
              f"{','.join(map(str, exits))} |")  # fmt: skip
    if args.baseline_tree:
        print("\nmedian CPU, this tree / baseline:")
        for name in commands:
            this = statistics.median(r[1] for r in runs[(name, "this tree")])
            base = statistics.median(r[1] for r in runs[(name, "baseline")])
            print(f"- {name}: {this:.2f} / {base:.2f} = {this / base:.2f}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
