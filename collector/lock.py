"""One lock design for the scheduler and for each slot: an flock on a file under state/run_locks/.

The kernel holds the lock, so it vanishes with its process, even on SIGKILL: a crash never
leaves a lock that blocks the next run, and two processes that both find an old file can
never both believe they hold it (the kernel grants the flock to one). The file also carries
the owner (pid, host, command, start time) so "lock exists" can say who holds it.

Release unlinks the file. Whoever acquires checks, after the flock, that the path still
names the inode it locked; if a releasing owner unlinked it meanwhile, it retries on the
new file. Without that check, two processes could hold flocks on two different inodes.
"""

from __future__ import annotations

import errno
import fcntl
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


def left_behind(owner: LockOwner | None, host: str) -> str:
    """Why an unlocked file with a previous owner's record in it is free to take."""
    if owner is None:
        return "unreadable lock file"
    if owner.host != host:
        return f"written on host {owner.host!r}, this is {host!r}"
    if not pid_alive(owner.pid):
        return f"pid {owner.pid} is not running"
    return f"pid {owner.pid} holds no lock on it"


class RunLock:
    """`with RunLock(state / "run_locks", "scheduler"):` - raises LockHeld if taken."""

    def __init__(self, locks_dir: Path, name: str, command: str = "") -> None:
        self.path = locks_dir / f"{name}.lock"
        self.command = command
        self.host = socket.gethostname()
        self.took_over: str | None = None
        self._fd: int | None = None

    def acquire(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(5):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                    raise LockHeld(self._held_message()) from None
                raise
            if not self._same_file(fd):
                os.close(fd)  # released and unlinked under us: lock the new file
                continue
            self._claim(fd)
            return self
        raise LockHeld(f"could not take lock {self.path}: it keeps being replaced")

    def _same_file(self, fd: int) -> bool:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return False
        mine = os.fstat(fd)
        return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)

    def _claim(self, fd: int) -> None:
        if os.fstat(fd).st_size:
            self.took_over = left_behind(read_owner(self.path), self.host)
            log.warning("taking over stale lock %s (%s)", self.path, self.took_over)
        owner = {
            "pid": os.getpid(),
            "host": self.host,
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": self.command,
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(owner).encode("utf-8"), 0)
        os.fsync(fd)
        self._fd = fd

    def _held_message(self) -> str:
        owner = read_owner(self.path)
        who = (
            f"pid {owner.pid} on {owner.host} since {owner.started_at}"
            + (f" ({owner.command})" if owner.command else "")
            if owner
            else "a process that has not written its name yet"
        )
        return (
            f"lock exists: {self.path} is held by {who}; another run uses it (wait for it or "
            "stop that process; the lock goes away with it)"
        )

    def release(self) -> None:
        """Unlink and unlock; a lock this object does not hold is left alone."""
        if self._fd is None:
            return
        self.path.unlink(missing_ok=True)
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
