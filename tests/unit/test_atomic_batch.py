"""Many Parquet files written as one batch (shared.atomic_batch, datafs.write_parquet_many):
every file lands whole, or - should one fail - none is replaced and no tmp file is left.
Local files with syncfs (where the kernel has it) and with the per-file fsync fallback;
the object store through the real client against the loopback S3 server."""

from __future__ import annotations

import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shared import datafs
from shared.atomic_batch import SYNCFS_MIN_FILES, BatchFailed, LocalParquetBatch, syncfs_available
from tests.support.s3 import S3Server, list_keys

MODES = [
    pytest.param(None, id="syncfs" if syncfs_available() else "default-fsync"),
    pytest.param(False, id="fsync-fallback"),
]


def _table(n: int, base: float = 100.0) -> pa.Table:
    return pa.table(
        {
            "underlying": ["SPY"] * n,
            "strike": [base + i for i in range(n)],
            "bid": [1.25 + i / 100 for i in range(n)],
        }
    )


def _unwritable() -> pa.Table:
    """A table Parquet has no type for: its encoding fails (as any write error would)."""
    return pa.table({"x": pa.array([(1, 2, 3)], pa.month_day_nano_interval())})


def _target(root: Path, sym: str) -> Path:
    return root / "view=daily_clean" / "date=2026-11-18" / f"underlying={sym}" / "part.parquet"


def _write_all(items: list[tuple[Path, pa.Table]], use_syncfs: bool | None) -> list[int]:
    with LocalParquetBatch("zstd", 3, use_syncfs=use_syncfs) as batch:
        return [batch.add(p, t) for p, t in items]


@pytest.mark.parametrize("use_syncfs", MODES)
def test_every_file_lands_whole(tmp_path: Path, use_syncfs: bool | None) -> None:
    items = [(_target(tmp_path, s), _table(i + 1)) for i, s in enumerate(["A", "B", "C", "D"])]
    sizes = _write_all(items, use_syncfs)
    for (path, table), size in zip(items, sizes, strict=True):
        assert pq.read_table(path).equals(table)
        assert path.stat().st_size == size
    assert not list(tmp_path.rglob("*.tmp"))


def test_syncfs_only_for_a_batch_large_enough() -> None:
    """A handful of files is fsynced one by one (syncfs would also flush whatever else is
    dirty on the filesystem); a large batch uses syncfs where the kernel has it."""
    assert not LocalParquetBatch(expected_files=SYNCFS_MIN_FILES - 1).uses_syncfs
    assert not LocalParquetBatch(use_syncfs=False).uses_syncfs
    large = LocalParquetBatch(expected_files=SYNCFS_MIN_FILES)
    assert large.uses_syncfs == syncfs_available()


def test_write_parquet_many_keeps_order_and_matches_the_single_writer(tmp_path: Path) -> None:
    items = [(_target(tmp_path / "many", f"S{i}"), _table(i + 1)) for i in range(20)]
    sizes = datafs.write_parquet_many(items, "zstd", 3, threads=4)
    assert sizes == [p.stat().st_size for p, _ in items]
    single = tmp_path / "one" / "part.parquet"
    for path, table in items:  # same encodings: byte for byte what the one-file writer writes
        datafs.write_parquet(single, table, "zstd", 3)
        assert path.read_bytes() == single.read_bytes()
    assert not list(tmp_path.rglob("*.tmp"))


@pytest.mark.parametrize("use_syncfs", MODES)
def test_an_existing_file_is_replaced_whole(tmp_path: Path, use_syncfs: bool | None) -> None:
    path = _target(tmp_path, "SPY")
    datafs.write_parquet(path, _table(50, base=200.0))
    old_bytes = path.read_bytes()
    with open(path, "rb") as reader:  # a reader holding the old file while the batch commits
        _write_all([(path, _table(3))], use_syncfs)
        assert reader.read() == old_bytes  # its file was never written into
    assert pq.read_table(path).equals(_table(3))


@pytest.mark.parametrize("use_syncfs", MODES)
@pytest.mark.parametrize("threads", [1, 4])
def test_a_failure_mid_batch_replaces_nothing(
    tmp_path: Path, use_syncfs: bool | None, threads: int
) -> None:
    """Old files stay byte for byte, new targets never appear, no tmp file is left."""
    old = {s: _target(tmp_path, s) for s in ("A", "B", "C")}
    for p in old.values():
        datafs.write_parquet(p, _table(5, base=300.0))
    before = {s: p.read_bytes() for s, p in old.items()}
    items = [
        (old["A"], _table(2)),
        (_target(tmp_path, "NEW1"), _table(2)),
        (old["B"], _unwritable()),  # fails in the middle
        (_target(tmp_path, "NEW2"), _table(2)),
        (old["C"], _table(2)),
    ]
    with (
        pytest.raises(pa.ArrowNotImplementedError),
        LocalParquetBatch("zstd", 3, use_syncfs=use_syncfs) as batch,
        ThreadPoolExecutor(threads) as pool,
    ):
        list(pool.map(lambda it: batch.add(*it), items))
    assert {s: p.read_bytes() for s, p in old.items()} == before
    assert not _target(tmp_path, "NEW1").exists() and not _target(tmp_path, "NEW2").exists()
    assert not list(tmp_path.rglob("*.tmp"))


def test_a_target_that_cannot_be_created_fails_the_batch(tmp_path: Path) -> None:
    kept = _target(tmp_path, "A")
    datafs.write_parquet(kept, _table(4))
    before = kept.read_bytes()
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    with pytest.raises(OSError):
        datafs.write_parquet_many([(kept, _table(1)), (blocked / "part.parquet", _table(1))])
    assert kept.read_bytes() == before and not list(tmp_path.rglob("*.tmp"))


def test_a_failed_batch_refuses_to_commit(tmp_path: Path) -> None:
    """Even a caller that swallows the error cannot publish the rest of a failed batch."""
    good = _target(tmp_path, "A")
    batch = LocalParquetBatch()
    batch.add(good, _table(2))
    with pytest.raises(pa.ArrowNotImplementedError) as first:
        batch.add(_target(tmp_path, "B"), _unwritable())
    # later calls are refused naming the first error, not a generic refusal that would
    # hide it (a read-only folder reported as "batch failed" told the operator nothing)
    with pytest.raises(BatchFailed, match="earlier file of the batch failed: "):
        batch.add(_target(tmp_path, "C"), _table(2))
    with pytest.raises(BatchFailed, match="nothing was replaced: ") as refused:
        batch.commit()
    assert str(refused.value).endswith(f": {first.value}")
    assert not good.exists() and not list(tmp_path.rglob("*.tmp"))


def test_files_on_two_filesystems_each_get_flushed(tmp_path: Path) -> None:
    """/dev/shm (tmpfs) beside the test's folder, when the machine has it: one batch."""
    shm = Path("/dev/shm")
    if not shm.is_dir() or not os.access(shm, os.W_OK):
        pytest.skip("no writable /dev/shm")
    other = Path(os.path.realpath(shm)) / f"optdata-batch-{os.getpid()}-{tmp_path.name}"
    try:
        items = [(_target(tmp_path, "A"), _table(2)), (_target(other, "B"), _table(3))]
        _write_all(items, None)  # syncfs where the kernel has it: one per filesystem
        assert [pq.read_table(p).num_rows for p, _ in items] == [2, 3]
    finally:
        shutil.rmtree(other, ignore_errors=True)


# --- Object store (a real server through the real client) ----------------------------------
def _bucket(uri: str) -> str:
    return uri.split("/")[2]


def test_s3_batch_all_land_and_a_failure_puts_nothing(s3_root: str, s3_srv: S3Server) -> None:
    root = datafs.data_root(s3_root)
    paths = [root / "clean" / f"underlying={s}" / "part.parquet" for s in ("A", "B", "C")]
    sizes = datafs.write_parquet_many([(p, _table(i + 2)) for i, p in enumerate(paths)])
    keys = list_keys(s3_srv, _bucket(s3_root))
    assert keys == {f"data/clean/underlying={s}/part.parquet": n
                    for s, n in zip("ABC", sizes, strict=True)}  # fmt: skip
    assert [datafs.read_parquet(p).num_rows for p in paths] == [2, 3, 4]
    before = {p.path: datafs.read_bytes(p) for p in paths}

    new = root / "clean" / "underlying=D" / "part.parquet"
    with pytest.raises(pa.ArrowNotImplementedError):
        datafs.write_parquet_many(
            [(paths[0], _table(9)), (new, _table(9)), (paths[1], _unwritable())], threads=1
        )
    assert {p.path: datafs.read_bytes(p) for p in paths} == before  # not one PUT was sent
    assert list_keys(s3_srv, _bucket(s3_root)) == keys


def test_an_abort_waits_for_a_file_still_being_written(tmp_path: Path) -> None:
    """As in compaction: the pool outlives the batch, one file fails at once while another
    is still being encoded; when the batch has aborted, no tmp file and no target is left
    (the abort waits for the file under way, and later adds are refused)."""
    big = pa.table({"strike": pa.array(range(2_000_000), pa.float64())})
    slow = _target(tmp_path, "SLOW")
    later = _target(tmp_path, "LATER")
    with ThreadPoolExecutor(2) as pool:
        with pytest.raises(pa.ArrowNotImplementedError), LocalParquetBatch() as batch:
            items = [(_target(tmp_path, "BAD"), _unwritable()), (slow, big), (later, _table(1))]
            list(pool.map(lambda it: batch.add(*it), items))
        assert not list(tmp_path.rglob("*.tmp"))
    assert not slow.exists() and not later.exists() and not list(tmp_path.rglob("*.tmp"))


def test_an_s3_batch_that_failed_names_its_first_error(s3_root: str, s3_srv: S3Server) -> None:
    """As on disk: later adds and the commit name the first error, not a bare refusal."""
    root = datafs.data_root(s3_root)
    batch = datafs.ParquetBatch()
    with pytest.raises(pa.ArrowNotImplementedError) as first:
        batch.add(root / "clean" / "underlying=A" / "part.parquet", _unwritable())
    with pytest.raises(BatchFailed, match="earlier file of the batch failed: ") as later:
        batch.add(root / "clean" / "underlying=B" / "part.parquet", _table(2))
    assert str(later.value).endswith(f": {first.value}")
    with pytest.raises(BatchFailed, match="nothing was replaced: "):
        batch.commit()
    assert list_keys(s3_srv, _bucket(s3_root)) == {}
