"""The ledger's reads by symbol with and without the partitions_by_underlying index.

    python -m scripts.bench.ledger_index_bench [--underlyings 500] [--days 60] [--slots 14]

Builds one SQLite ledger of underlyings x days x slots intraday partitions (the shape a
year of the S&P 500 grows into), then times the reads list_underlyings and list_sessions
make (underlying_ranges, session_slots of one symbol over the whole range, nearest_dates,
slots_on), first with the index and then, on the same file, without it. Both runs are
in one process, side by side, so the machine's noise hits both; the report is the ratio.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from shared.ledger import Ledger, LedgerReader, PartitionRecord

INDEX = "partitions_by_underlying"


def build(path: Path, underlyings: int, days: int, slots: int) -> list[date]:
    ledger = Ledger(path)
    dates = [date(2026, 1, 2) + timedelta(days=d) for d in range(days)]
    labels = [f"{9 + (30 + 30 * i) // 60:02d}:{(30 + 30 * i) % 60:02d}" for i in range(slots)]
    for day in dates:
        ledger.record_partitions(
            [
                PartitionRecord("intraday", day, f"S{u:04d}", slot, f"p/{u}/{slot}", 400, 30_000)
                for u in range(underlyings)
                for slot in labels
            ],
            None,
        )
    return dates


def reads(reader: LedgerReader, dates: list[date]) -> dict[str, Callable[[], Any]]:
    mid = dates[len(dates) // 2]
    return {
        "underlying_ranges (list_underlyings)": lambda: reader.underlying_ranges("intraday"),
        "session_slots of one symbol (list_sessions)": lambda: reader.session_slots(
            "intraday", "S0042", dates[0], dates[-1]
        ),
        "nearest_dates of one symbol": lambda: reader.nearest_dates("intraday", "S0042", mid),
        "slots_on (one symbol, one day)": lambda: reader.slots_on("intraday", mid, "S0042"),
    }


def timed(fn: Callable[[], Any], repeat: int) -> float:
    fn()  # warm the page cache
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--underlyings", type=int, default=500)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--slots", type=int, default=14)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ledger.sqlite"
        t0 = time.perf_counter()
        dates = build(path, args.underlyings, args.days, args.slots)
        rows = args.underlyings * args.days * args.slots
        print(f"ledger: {rows:,} partitions built in {time.perf_counter() - t0:.1f} s")
        reader = LedgerReader(path)
        with_index = {name: timed(fn, args.repeat) for name, fn in reads(reader, dates).items()}
        with Ledger(path)._db.writer() as con:
            con.run(f"DROP INDEX {INDEX}")
        without = {name: timed(fn, args.repeat) for name, fn in reads(reader, dates).items()}
    print("| read | without index ms | with index ms | without / with |")
    print("|---|---|---|---|")
    for name in with_index:
        a, b = without[name] * 1000, with_index[name] * 1000
        print(f"| {name} | {a:.1f} | {b:.1f} | x{a / b:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
