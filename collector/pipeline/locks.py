"""One process per (task, view, date, slot): an flock the kernel releases even on SIGKILL."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from collector.pipeline.errors import JobFailed


class SlotLock:
    def __init__(self, directory: Path, name: str) -> None:
        self.path = directory / f"{name}.lock"
        self._fd: int | None = None

    def __enter__(self) -> SlotLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise JobFailed(f"another run holds {self.path.name}: it is still running") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
