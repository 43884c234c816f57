"""Rollup, storage, checks and maintenance at the scale of the S&P 500 (one session).

    python -m scripts.bench.scale_bench [--quick] [--keep DIR [--reuse]]

Writes one realistic session (scripts/bench/scale_session.py: 500 underlyings x 14 slots
x 390 contracts = 2.73M intraday rows; --quick: 50 underlyings), then measures side by
side in one run, each command in its own process (its import time reported apart from
its job time, peak RSS from wait4):

- storage: bytes per row of the slot files as the collector writes them, against the
  same tables written the way they were before (plain zstd, float64 everywhere, all
  statistics), per slot file, per merged day and at the demo's 24 rows a file;
- rollup: the row-by-row implementation it replaced (scripts/bench/rollup_reference.py,
  with its per-underlying reads and one ledger commit per file) against `run_rollup`;
  both outputs must be equal or the bench fails;
- `opt-data qa`, `selfcheck` and `compact --day` of that day, qa and selfcheck again
  after the day is compacted, the intraday view's bytes per row once merged, and
  `opt-data --help`.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from scripts.bench.scale_session import DAY, load_session, underlying_day, write_session
from shared import schema as S
from shared.storage import atomic_write_parquet


@dataclass(frozen=True)
class Proc:
    import_s: float
    calendar_s: float
    job_s: float
    cpu_s: float
    peak_mib: float
    out: dict[str, Any]


def run_child(task: str, config: Path, day: date, cwd: Path | None = None) -> Proc:
    """One measured task in a fresh interpreter (so its imports and memory are its own);
    `cwd`: the checkout whose code runs (scripts/bench/scale_ab.py)."""
    cmd = [sys.executable, "-m", "scripts.bench.scale_child", task, str(config), str(day)]
    r = launch(cmd, cwd)
    if r["exit"] != 0:
        raise SystemExit(f"bench child {task} failed ({r['exit']})")
    out = json.loads(r["out"].strip().splitlines()[-1])
    return Proc(
        out.pop("import_s"), out.pop("calendar_s"), out.pop("job_s"), r["cpu"], r["rss"], out
    )


# Peak RSS is a high-water mark that survives exec: a child forked from this (large)
# process would report this process's size. A small launcher forks the command instead.
LAUNCHER = """
import json, os, subprocess, sys, time
t = time.perf_counter()
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
out = p.stdout.read()
_, status, u = os.wait4(p.pid, 0)
print(json.dumps({"wall": time.perf_counter() - t, "cpu": u.ru_utime + u.ru_stime,
                  "rss": u.ru_maxrss / 1024, "exit": os.waitstatus_to_exitcode(status),
                  "out": out}))
"""


def launch(cmd: list[str], cwd: Path | None = None) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", LAUNCHER, *cmd], capture_output=True, text=True, cwd=cwd
    )
    return dict(json.loads(done.stdout))


def run_cmd(cmd: list[str]) -> tuple[float, float, float, int]:
    """(wall s, CPU s, peak RSS MiB, exit code) of one command."""
    r = launch(cmd)
    return r["wall"], r["cpu"], r["rss"], r["exit"]


# --- storage ---------------------------------------------------------------------------
def _old_write(table: pa.Table) -> int:
    """How files were written before: the values as IB sent them (float64), default
    encodings and statistics, zstd 3, one row group."""
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd", compression_level=3,
                   row_group_size=max(1, table.num_rows))  # fmt: skip
    return len(buf.getvalue())


def _new_write(table: pa.Table, tmp: Path) -> int:
    return atomic_write_parquet(tmp / "x.parquet", S.conform(table, S.SNAPSHOT_SCHEMA))


def storage(symbols: int, slots: list[str], tmp: Path) -> list[tuple[str, float, float]]:
    """(layout, bytes/row before, bytes/row after) on a sample of underlyings."""
    sums: dict[str, list[int]] = {k: [0, 0, 0] for k in ("slot file", "merged day", "demo")}
    for k in range(min(symbols, 40)):
        day = underlying_day(k, f"S{k:03d}", DAY, slots, as_received=True)
        tables = [t for view, _, t in day if view == "intraday"]
        merged = pa.concat_tables(tables).sort_by(
            [*S.SORT_KEYS, ("conid", "ascending"), ("slot", "ascending")]
        )
        for kind, parts in (
            ("slot file", tables),
            ("merged day", [merged]),
            ("demo", [t.slice(0, 24) for t in tables[:4]]),
        ):
            for t in parts:
                sums[kind][0] += _old_write(t)
                sums[kind][1] += _new_write(t, tmp)
                sums[kind][2] += t.num_rows
    return [(k, b / n, a / n) for k, (b, a, n) in sums.items()]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="50 underlyings (a CI smoke run)")
    p.add_argument("--symbols", type=int, default=None)
    p.add_argument("--keep", type=Path, default=None, help="write the session here and keep it")
    p.add_argument("--reuse", action="store_true",
                   help="with --keep: use the session already there (not yet compacted)")  # fmt: skip
    args = p.parse_args(argv)
    if args.reuse and args.keep is None:
        p.error("--reuse needs --keep DIR")
    symbols = args.symbols or (50 if args.quick else 500)
    root = args.keep or Path(tempfile.mkdtemp(prefix="opt-data-scale-"))
    failed = False
    try:
        t0 = time.perf_counter()
        reuse = args.reuse and (root / "config" / "opt-data.toml").is_file()
        session = load_session(root) if reuse else write_session(root, symbols)
        symbols = len(session.symbols)
        rows = session.intraday_rows
        print(f"session: {symbols} underlyings x {len(session.slots)} slots x 390 contracts = "
              f"{rows:,} intraday rows, {'reused' if reuse else 'written'} in {time.perf_counter() - t0:.1f} s", flush=True)  # fmt: skip
        layout_root = root / "data"
        slot_bytes = sum(f.stat().st_size for f in layout_root.rglob("slot=*.parquet"))
        print(f"\n## Storage (bytes per row)\nslot files as written: "
              f"{slot_bytes / (rows + session.close_rows):.1f} B/row over the whole session")  # fmt: skip
        tmp = root / "tmp-storage"
        tmp.mkdir(exist_ok=True)
        print("| layout | before | after | after / before |\n|---|---|---|---|")
        for kind, before, after in storage(symbols, session.slots, tmp):
            print(f"| {kind} | {before:.1f} | {after:.1f} | {after / before:.2f} |")
        shutil.rmtree(tmp)

        print("\n## Rollup (one session, every underlying)", flush=True)
        daily = root / "data" / "clean"
        shutil.rmtree(daily, ignore_errors=True)  # a reused session's earlier rollup
        old = run_child("rollup-old", session.config, session.day)
        old_out = _read_daily(daily)
        shutil.rmtree(daily)
        new = run_child("rollup", session.config, session.day)
        new_out = _read_daily(daily)
        same = old_out.equals(new_out)
        failed |= not same
        print("| implementation | import s | calendar load s | job s | process CPU s | "
              "peak RSS MiB | rows |\n|---|---|---|---|---|---|---|")  # fmt: skip
        for name, r in (("row-by-row (before)", old), ("vectorised (after)", new)):
            print(f"| {name} | {r.import_s:.2f} | {r.calendar_s:.2f} | {r.job_s:.2f} | "
                  f"{r.cpu_s:.2f} | {r.peak_mib:.0f} | {r.out['rows']:,} |")  # fmt: skip
        print(f"job time after / before: {new.job_s / old.job_s:.3f} "
              f"(x{old.job_s / new.job_s:.0f} faster); outputs equal: {same}")  # fmt: skip

        print("\n## Checks and maintenance of the day (one process each)", flush=True)
        print("| command | wall s | CPU s | peak RSS MiB | exit |\n|---|---|---|---|---|")
        day = session.day.isoformat()
        cli = [sys.executable, "-m", "collector.cli.main"]
        conf = ["--config", str(session.config)]
        for name, cmd_args in (
            ("qa (14 slot files per underlying)", ["qa", "--date", day]),
            ("selfcheck (14 slot files per underlying)", ["selfcheck", "--date", day]),
            ("compact", ["compact", "--day", day]),
            ("qa (after compact: one file per underlying)", ["qa", "--date", day]),
            ("selfcheck (after compact)", ["selfcheck", "--date", day]),
        ):
            r = run_cmd([*cli, *cmd_args, *conf])
            print(f"| `opt-data {' '.join(cmd_args)}` {name.split(' ', 1)[1] if ' ' in name else ''} | "
                  f"{r[0]:.2f} | {r[1]:.2f} | {r[2]:.0f} | {r[3]} |", flush=True)  # fmt: skip
        intraday = layout_root / "raw" / "ib" / "chain" / "view=intraday"
        merged = sum(f.stat().st_size for f in intraday.rglob("*.parquet"))
        print(f"\nintraday view after compact --day: {merged / rows:.1f} B/row "
              f"({merged / 1e6:.0f} MB for {rows:,} rows)")  # fmt: skip

        print("\n## Start-up", flush=True)
        helps = sorted(run_cmd([*cli, "--help"]) for _ in range(5))
        mid = helps[2]
        print(f"`opt-data --help`: median of 5: wall {mid[0]:.2f} s, CPU {mid[1]:.2f} s, "
              f"peak RSS {mid[2]:.0f} MiB")  # fmt: skip
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    return 1 if failed else 0


def _read_daily(root: Path) -> pa.Table:
    files = sorted(root.rglob("part.parquet"))
    return pa.concat_tables([pq.read_table(f) for f in files]) if files else pa.table({})


if __name__ == "__main__":
    raise SystemExit(main())
