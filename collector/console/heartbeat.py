"""The collector's heartbeat, and who holds a lock: read from lock files and one TCP probe.

A lock file exists only while its owner runs (collector/lock.py unlinks it on release and
the kernel drops the flock with the process); a file left by a crash names a dead pid, so
a holder counts only if its pid is alive on this host. The gateway probe is a plain TCP
connect (no API handshake, so it takes no client id and sends nothing IB would count).
"""

from __future__ import annotations

import socket
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from collector.lock import LockOwner, pid_alive, read_owner
from collector.ops.schedule.modes import LOCK_NAME as SCHEDULER_LOCK


def holder(path: Path) -> LockOwner | None:
    """The live owner of a lock file, or None when the lock is free."""
    owner = read_owner(path)
    if owner is None or owner.host != socket.gethostname() or not pid_alive(owner.pid):
        return None
    return owner


def holders(locks_dir: Path, prefix: str) -> list[tuple[str, LockOwner]]:
    """Live locks whose name starts with `prefix` (e.g. every slot of one task and date)."""
    if not locks_dir.is_dir():
        return []
    out = []
    for path in sorted(locks_dir.glob(f"{prefix}*.lock")):
        owner = holder(path)
        if owner is not None:
            out.append((path.stem, owner))
    return out


def describe(name: str, owner: LockOwner) -> str:
    what = f" ({owner.command})" if owner.command else ""
    return f"{name} is held by pid {owner.pid} on {owner.host} since {owner.started_at}{what}"


def gateway_reachable(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


@dataclass(frozen=True)
class Heartbeat:
    scheduler: dict[str, Any] | None  # the scheduler lock's owner, None if no scheduler runs
    last_task: dict[str, Any] | None  # newest run in the ledger
    gateway: str  # host:port probed
    gateway_up: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def heartbeat(locks_dir: Path, last_run: dict[str, Any] | None, host: str, port: int) -> Heartbeat:
    owner = holder(locks_dir / f"{SCHEDULER_LOCK}.lock")
    last = None
    if last_run:
        last = {k: last_run.get(k) for k in ("task", "trade_date", "slot", "status",
                                             "started_at", "finished_at", "run_id")}  # fmt: skip
    return Heartbeat(
        scheduler=asdict(owner) if owner else None,
        last_task=last,
        gateway=f"{host}:{port}",
        gateway_up=gateway_reachable(host, port),
    )
