"""One scheduler per state directory: a lock file under state/run_locks/.

The lock is created with O_CREAT|O_EXCL (atomic on one host) and holds the owner's pid,
host and start time. A lock whose pid is gone, or that was written on another host (a
state directory copied or shared), is stale: it is taken over with a warning naming it.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

log = logging.getLogger(__name__)


class LockHeld(RuntimeError):
    """Another live process owns the lock; the message says who and how to clear it."""


@dataclass(frozen=True)
class LockOwner:
    pid: int
    host: str
    started_at: str
    command: str = ""


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def read_owner(path: Path) -> LockOwner | None:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return LockOwner(
            int(raw["pid"]),
            str(raw["host"]),
            str(raw.get("started_at", "")),
            str(raw.get("command", "")),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def stale_reason(owner: LockOwner | None, host: str) -> str | None:
    """Why a lock can be taken over, or None when its owner is alive on this host."""
    if owner is None:
        return "unreadable lock file"
    if owner.host != host:
        return f"written on host {owner.host!r}, this is {host!r}"
    if not pid_alive(owner.pid):
        return f"pid {owner.pid} is not running"
    return None


class RunLock:
    """`with RunLock(state / "run_locks", "scheduler"):` - raises LockHeld if taken."""

    def __init__(self, locks_dir: Path, name: str, command: str = "") -> None:
        self.path = locks_dir / f"{name}.lock"
        self.command = command
        self.host = socket.gethostname()
        self.took_over: str | None = None

    def _create(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return False
        owner = {
            "pid": os.getpid(),
            "host": self.host,
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": self.command,
        }
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(owner, fh)
            fh.flush()
            os.fsync(fh.fileno())
        return True

    def acquire(self) -> RunLock:
        for _ in range(3):
            if self._create():
                return self
            owner = read_owner(self.path)
            reason = stale_reason(owner, self.host)
            if reason is None:
                assert owner is not None
                raise LockHeld(
                    f"lock exists: {self.path} is held by pid {owner.pid} on {owner.host} since "
                    f"{owner.started_at}; another scheduler uses this state directory (stop it, "
                    f"or remove the lock file if that process is gone)"
                )
            log.warning("taking over stale lock %s (%s)", self.path, reason)
            self.took_over = reason
            self.path.unlink(missing_ok=True)
        raise LockHeld(f"could not take lock {self.path}: it keeps reappearing")

    def release(self) -> None:
        owner = read_owner(self.path)
        if owner is not None and owner.pid == os.getpid() and owner.host == self.host:
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
