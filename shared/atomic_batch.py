"""Many local Parquet files written atomically as one batch, with two disk flushes in all.

A job that writes hundreds of files at once (the rollup's daily_clean, compaction) would pay,
per file, an fsync of the file and one of its folder (shared.storage.atomic_write_parquet).
Here every file of the batch is encoded into its own `*.tmp` beside its target first; then

1. the data of every tmp file is made durable with one `syncfs(2)` per filesystem,
2. each tmp file is renamed over its target (os.replace: a reader sees the old file or the
   new one, never half of one),
3. the renames are made durable with one more `syncfs(2)`.

Why this order: data before names. Were a name made durable before its data, a crash could
leave the target naming a file whose blocks were never written (a hole or zeros where the
old file used to be), so the data of every file is on disk before the first rename. The
second flush comes before the caller records the files in the ledger, so the ledger never
vouches for a rename that a crash could undo.

If any file fails to encode or write, every tmp file of the batch is removed and the error
raised: no target is replaced (never fewer data than before). A rename that fails halfway
(it should not: same folder, same filesystem) leaves the files renamed so far replaced
whole by their new version and the rest as they were; the error is raised.

syncfs, from man 2 syncfs (https://man7.org/linux/man-pages/man2/syncfs.2.html): "syncfs()
is like sync(), but synchronizes just the filesystem containing file referred to by the
open file descriptor fd"; Linux's sync() and syncfs() "provide the same guarantees as
fsync() called on every file in the system or filesystem respectively". Its errors: "In
mainline kernel versions prior to Linux 5.8, syncfs() will fail only when passed a bad file
descriptor (EBADF). Since Linux 5.8, syncfs() will also report an error if one or more
inodes failed to be written back" - so it is used on Linux >= 5.8 only (an older kernel
would hide a failed write), and elsewhere each tmp file and then each folder is fsynced as
before. The kernel reports a write-back error to a descriptor opened before the error
(the error sequence is sampled at open), so the descriptor syncfs is called on is opened
before the first file of its filesystem is written.

syncfs also flushes whatever else is dirty on that filesystem (other processes' writes),
and the flushing itself runs in the kernel's writeback threads rather than in this
process. For hundreds of files one flush costs far less than a journal commit per file;
for a handful it is not worth that exposure, so a batch expected to hold fewer than
SYNCFS_MIN_FILES files fsyncs each one (docs/benchmarks.md, "Writing many files").
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
from collections.abc import Callable
from functools import cache
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from shared.storage import fsync_dir, parquet_write_options

if TYPE_CHECKING:
    import pyarrow as pa

SYNCFS_MIN_KERNEL = (5, 8)  # man 2 syncfs: earlier kernels do not report write-back errors
SYNCFS_MIN_FILES = 16  # fewer files: an fsync each (see the module docstring)


@cache
def _syncfs() -> Callable[[int], int] | None:
    """libc's syncfs, or None where it is absent or cannot report errors."""
    if sys.platform != "linux":
        return None
    try:
        major, minor = (int(x) for x in os.uname().release.split(".")[:2])
    except ValueError:
        return None
    if (major, minor) < SYNCFS_MIN_KERNEL:
        return None
    import ctypes

    fn = getattr(ctypes.CDLL(None, use_errno=True), "syncfs", None)  # glibc >= 2.14
    if fn is None:
        return None
    fn.argtypes = [ctypes.c_int]
    fn.restype = ctypes.c_int
    return fn  # type: ignore[no-any-return]


def syncfs_available() -> bool:
    return _syncfs() is not None


def _call_syncfs(fd: int) -> None:
    import ctypes

    fn = _syncfs()
    assert fn is not None
    if fn(fd) != 0:  # ctypes releases the GIL for the call
        err = ctypes.get_errno()
        raise OSError(err, f"syncfs: {os.strerror(err)}")


class BatchFailed(OSError):
    """A file of the batch failed; the message carries the first error (an OSError, so
    that the callers' handling of a failed write applies to it as to any other)."""


class LocalParquetBatch:
    """Files added (from any thread) go to tmp files; leaving the `with` block without an
    error publishes them all (commit), with an error removes them all (abort).

    use_syncfs=False forces the per-file fsync way, the fallback where syncfs is not
    available (by default syncfs is used where it is); expected_files below
    SYNCFS_MIN_FILES chooses it too."""

    def __init__(
        self,
        compression: str = "zstd",
        level: int = 3,
        *,
        use_syncfs: bool | None = None,
        expected_files: int | None = None,
    ) -> None:
        self.compression = compression
        self.level = level
        few = expected_files is not None and expected_files < SYNCFS_MIN_FILES
        self._syncfs = syncfs_available() and use_syncfs is not False and not few
        self._lock = threading.Condition()  # guards the fields below; notified as adds end
        self._inflight = 0  # adds started and not yet returned
        self._pending: list[tuple[str, Path]] = []  # (tmp file, target), in order added
        self._devices: dict[int, int] = {}  # filesystem (st_dev) -> descriptor for syncfs
        self._dirs: set[Path] = set()  # folders to fsync when syncfs is not used
        self._failed: BaseException | None = None  # the first error of an add
        self._closed = False

    @property
    def uses_syncfs(self) -> bool:
        return self._syncfs

    def add(self, path: Path, table: pa.Table) -> int:
        """Encode `table` into a tmp file beside `path`; its size in bytes (the size `path`
        will have once committed)."""
        import pyarrow.parquet as pq

        with self._lock:
            if self._failed is not None:
                # the first error is the one to report (a read-only folder, a full disk);
                # pool.map raises in item order, which may be a later add's refusal
                raise BatchFailed(f"an earlier file of the batch failed: {self._failed}")
            if self._closed:
                raise RuntimeError("batch already committed or aborted")
            self._inflight += 1
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            try:
                with self._lock:
                    self._pending.append((tmp, path))
                    self._dirs.add(path.parent)
                    if self._syncfs:
                        dev = os.fstat(fd).st_dev
                        if dev not in self._devices:  # opened before this filesystem's writes
                            self._devices[dev] = os.open(path.parent, os.O_RDONLY)
            finally:
                os.close(fd)
            pq.write_table(table, tmp, **parquet_write_options(table, self.compression, self.level))
            if not self._syncfs:
                with open(tmp, "rb+") as fh:
                    os.fsync(fh.fileno())
            return os.stat(tmp).st_size
        except BaseException as exc:
            with self._lock:  # later adds fail fast, naming it; commit refuses
                self._failed = self._failed or exc
            raise
        finally:
            with self._lock:
                self._inflight -= 1
                self._lock.notify_all()

    def _close(self) -> bool:
        """Refuse further adds and wait for those under way (an abort may come from one
        thread while another is still writing its file); False if already closed."""
        with self._lock:
            if self._closed:
                return False
            self._closed = True
            self._lock.wait_for(lambda: self._inflight == 0)
            return True

    def commit(self) -> None:
        """Data durable, then every rename, then the renames durable (module docstring)."""
        if not self._close():
            raise RuntimeError("batch already committed or aborted")
        if self._failed is not None:
            self._remove_tmp_files(self._pending)
            self._close_devices()
            raise BatchFailed(f"a file of the batch failed, nothing was replaced: {self._failed}")
        done = 0
        try:
            self._flush(names=False)
            for tmp, target in self._pending:
                os.replace(tmp, target)
                done += 1
        except BaseException:
            self._remove_tmp_files(self._pending[done:])
            self._close_devices()
            raise
        try:
            self._flush(names=True)
        finally:
            self._close_devices()

    def abort(self) -> None:
        """Remove every tmp file of the batch; no target is touched."""
        if not self._close():
            return
        self._remove_tmp_files(self._pending)
        self._close_devices()

    def _flush(self, *, names: bool) -> None:
        if self._syncfs:
            for fd in self._devices.values():
                _call_syncfs(fd)
        elif names:  # the files themselves were fsynced as they were written
            for d in sorted(self._dirs):
                fsync_dir(d)

    def _close_devices(self) -> None:
        for fd in self._devices.values():
            os.close(fd)
        self._devices.clear()

    @staticmethod
    def _remove_tmp_files(items: list[tuple[str, Path]]) -> None:
        for tmp, _ in items:
            Path(tmp).unlink(missing_ok=True)

    def __enter__(self) -> LocalParquetBatch:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()
