"""The scheduler lock: exclusive while the owner lives, taken over when stale."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from collector.lock import LockHeld, RunLock, read_owner


def test_second_holder_gets_a_clear_message(tmp_path: Path) -> None:
    with RunLock(tmp_path, "scheduler") as first:
        assert read_owner(first.path) is not None and read_owner(first.path).pid == os.getpid()  # type: ignore[union-attr]
        with pytest.raises(LockHeld, match=r"lock exists: .*scheduler\.lock is held by pid \d+"):
            RunLock(tmp_path, "scheduler").acquire()
    assert not (tmp_path / "scheduler.lock").exists()


def test_dead_pid_is_stale_and_taken_over(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_pid = int(proc.stdout)
    lock = RunLock(tmp_path, "scheduler")
    lock.path.write_text(
        json.dumps({"pid": dead_pid, "host": lock.host, "started_at": "x"}), encoding="utf-8"
    )
    with lock:
        assert lock.took_over == f"pid {dead_pid} is not running"
        assert read_owner(lock.path).pid == os.getpid()  # type: ignore[union-attr]
    assert "taking over stale lock" in caplog.text


def test_other_host_is_stale(tmp_path: Path) -> None:
    lock = RunLock(tmp_path, "scheduler")
    lock.path.write_text(
        json.dumps({"pid": os.getpid(), "host": "elsewhere", "started_at": "x"}), encoding="utf-8"
    )
    with lock:
        assert lock.took_over is not None and "elsewhere" in lock.took_over


def test_garbage_lock_file_is_stale(tmp_path: Path) -> None:
    (tmp_path / "scheduler.lock").write_text("not json", encoding="utf-8")
    with RunLock(tmp_path, "scheduler") as lock:
        assert lock.took_over == "unreadable lock file"


def test_release_never_removes_someone_elses_lock(tmp_path: Path) -> None:
    lock = RunLock(tmp_path, "scheduler")
    lock.path.write_text(
        json.dumps({"pid": os.getppid(), "host": lock.host, "started_at": "x"}), encoding="utf-8"
    )
    lock.release()
    assert lock.path.exists()
