"""What the data-tree seam costs: local writes through shared.datafs against the direct
shared.storage writer, and the same slot files on an S3-compatible server (moto, loopback).

    python -m scripts.bench.datafs_bench [--files 300] [--rows 390]

The local pair runs interleaved in one process (the order alternating per file), so the
machine's noise hits both; the report is the ratio of medians. The S3 figures are for
scale only: a loopback moto server is neither AWS's latency nor its throughput.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from shared import datafs
from shared.storage import atomic_write_parquet
from tests.support.s3 import KEY_ID, REGION, SECRET, make_bucket, s3_server
from tests.support.tables import snapshot_rows


def _ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1e3


def local_pair(files: int, rows: int) -> dict[str, float]:
    table = snapshot_rows("AAPL", "10:00", rows)
    root = Path(tempfile.mkdtemp(prefix="datafs-bench-"))
    fns: dict[str, Callable[..., Any]] = {
        "direct": atomic_write_parquet,
        "datafs": datafs.write_parquet,
    }
    times: dict[str, list[float]] = {k: [] for k in fns}
    for i in range(files):
        order = list(fns) if i % 2 else list(fns)[::-1]
        for name in order:
            path = root / name / f"underlying=S{i % 50}" / "slot=1000.parquet"
            t0 = time.perf_counter()
            fns[name](path, table, "zstd", 3)
            times[name].append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    listed = datafs.list_files(root / "datafs", "*.parquet")
    list_ms = (time.perf_counter() - t0) * 1e3
    return {
        "direct_ms": _ms(times["direct"]),
        "datafs_ms": _ms(times["datafs"]),
        "ratio": _ms(times["datafs"]) / _ms(times["direct"]),
        "list_ms": list_ms,
        "listed": len(listed),
    }


def s3_figures(files: int, rows: int) -> dict[str, float]:
    table = snapshot_rows("AAPL", "10:00", rows)
    with s3_server() as server:
        os.environ.update(
            AWS_ENDPOINT_URL=server.endpoint,
            AWS_ACCESS_KEY_ID=KEY_ID,
            AWS_SECRET_ACCESS_KEY=SECRET,
            AWS_DEFAULT_REGION=REGION,
        )
        root = datafs.data_root(f"s3://{make_bucket(server)}/bench")
        writes, reads = [], []
        for i in range(files):
            path = root / f"underlying=S{i}" / "slot=1000.parquet"
            t0 = time.perf_counter()
            datafs.write_parquet(path, table)
            writes.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            datafs.read_parquet(path)
            reads.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        listed = datafs.list_files(root, "*.parquet")
        list_ms = (time.perf_counter() - t0) * 1e3
    return {"put_ms": _ms(writes), "get_ms": _ms(reads), "list_ms": list_ms, "listed": len(listed)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--files", type=int, default=300)
    ap.add_argument("--rows", type=int, default=390)
    args = ap.parse_args(argv)
    local = local_pair(args.files, args.rows)
    print(
        f"local slot file ({args.rows} rows), median of {args.files}: direct "
        f"{local['direct_ms']:.2f} ms, through datafs {local['datafs_ms']:.2f} ms, "
        f"ratio x{local['ratio']:.3f}; list {local['listed']:.0f} files {local['list_ms']:.1f} ms"
    )
    s3 = s3_figures(args.files, args.rows)
    print(
        f"s3 (moto, loopback), median of {args.files}: PUT {s3['put_ms']:.2f} ms, "
        f"GET {s3['get_ms']:.2f} ms; list {s3['listed']:.0f} objects {s3['list_ms']:.1f} ms"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
