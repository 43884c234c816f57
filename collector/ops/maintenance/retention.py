"""`retention`: drop intraday date partitions or error logs older than N days.

A date directory is first renamed to a hidden `.<name>.deleting` sibling (one atomic rename:
readers and hive scans stop seeing it at once), then its ledger partitions are forgotten, then
it is deleted. A crash in between leaves only a hidden directory the next run finishes off.

On an object store there is no rename: the ledger rows go first, then the date's objects in
batched deletes. A crash in between leaves an older-than-cutoff date the next run finds again.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from shared import datafs
from shared.datafs import DataPath
from shared.ledger import Ledger, LedgerReader
from shared.storage import Layout

RETENTION_VIEWS = ("intraday", "close", "errors")
DATE_DIR_RE = re.compile(r"^date=(\d{4}-\d{2}-\d{2})$")
ERRORS_FILE_RE = re.compile(r"^(?:errors|summary)_(\d{8})\.(?:log|json)$")
DELETING_SUFFIX = ".deleting"


@dataclass(frozen=True)
class Expired:
    path: DataPath
    day: date


def cutoff_date(today: date, older_than_days: int) -> date:
    """Anything dated strictly before this goes: `--older-than 60` keeps the last 60 days."""
    if older_than_days < 1:
        raise ValueError(f"--older-than must be at least 1 day, got {older_than_days}")
    return today - timedelta(days=older_than_days)


def expired_partitions(layout: Layout, view: str, cutoff: date) -> list[Expired]:
    out = []
    for child in datafs.subdirs(layout.view_root(view)):
        m = DATE_DIR_RE.match(child.name)
        if m and date.fromisoformat(m.group(1)) < cutoff:
            out.append(Expired(child, date.fromisoformat(m.group(1))))
    return out


def expired_error_logs(layout: Layout, cutoff: date) -> list[Expired]:
    folder = layout.run_logs / "errors"
    if not folder.is_dir():
        return []
    out = []
    for child in sorted(folder.iterdir()):
        m = ERRORS_FILE_RE.match(child.name)
        if m:
            day = date(int(m.group(1)[:4]), int(m.group(1)[4:6]), int(m.group(1)[6:]))
            if day < cutoff:
                out.append(Expired(child, day))
    return out


def find_expired(layout: Layout, view: str, cutoff: date) -> list[Expired]:
    if view not in RETENTION_VIEWS:
        raise ValueError(
            f"unknown retention view {view!r}: expected one of {', '.join(RETENTION_VIEWS)}"
        )
    if view == "errors":
        return expired_error_logs(layout, cutoff)
    return expired_partitions(layout, view, cutoff)


def leftover_deletions(layout: Layout, view: str) -> list[Path]:
    if view == "errors":
        return []
    root = layout.view_root(view)
    if not isinstance(root, Path):  # an object store hides nothing first
        return []
    return sorted(root.glob(f".*{DELETING_SUFFIX}")) if root.is_dir() else []


def _forget(layout: Layout, view: str, day: date) -> None:
    reader = LedgerReader(layout.ledger)
    if reader.exists():
        ledger = Ledger(layout.ledger)
        for row in reader.partitions_for_date(day, view):
            ledger.forget_partition(view, day, row["underlying"], row["slot"])


def _drop_partition_dir(layout: Layout, view: str, item: Expired) -> None:
    if not isinstance(item.path, Path):
        _forget(layout, view, item.day)
        datafs.delete_many(e.path for e in datafs.list_files(item.path))
        return
    hidden = item.path.with_name(f".{item.path.name}{DELETING_SUFFIX}")
    os.replace(item.path, hidden)
    _forget(layout, view, item.day)
    shutil.rmtree(hidden)


def apply_retention(layout: Layout, view: str, expired: list[Expired]) -> list[DataPath]:
    """Remove what find_expired returned; also finish deletions a crash interrupted."""
    removed: list[DataPath] = []
    for leftover in leftover_deletions(layout, view):
        shutil.rmtree(leftover)
        removed.append(leftover)
    for item in expired:
        if view == "errors":
            datafs.delete(item.path)
        else:
            _drop_partition_dir(layout, view, item)
        removed.append(item.path)
    return removed
