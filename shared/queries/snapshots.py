"""The stored snapshots of one underlying over a date range: one frame per (date, slot).

daily_clean gives one snapshot per date; a raw view gives its latest slot per date, or
every slot when asked. A compacted date (compacted.parquet) is read once and split by
its `slot` column; a slot file next to it is newer and replaces that slot's rows
(docs/ops-runbook.md, "Compaction"). Dates come from the XNYS calendar, files from
validated paths only (shared.queries.paths); a date without a file is counted, not an error.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import polars as pl
import pyarrow as pa

from shared.calendar import sessions_between
from shared.datafs import DataPath
from shared.queries import files
from shared.queries.context import ServerContext
from shared.queries.paths import QueryError
from shared.storage import COMPACTED_FILE, RAW_VIEWS

COLUMNS = ["conid", "underlying", "trading_class", "expiry", "strike", "right", "iv", "delta",
           "und_price", "gamma", "open_interest", "multiplier", "volume"]  # fmt: skip


@dataclass
class ReadStats:
    files: int = 0
    missing_dates: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    stopped_at_file_cap: bool = False


def session_range(start: date, end: date, max_sessions: int) -> tuple[list[date], bool]:
    """The sessions in [start, end]; past the cap only the most recent are kept (True)."""
    if start > end:
        raise QueryError(f"from_date {start} is after to_date {end}")
    days = [s.trade_date for s in sessions_between(start, end)]
    if len(days) > max_sessions:
        return days[-max_sessions:], True
    return days, False


def iter_snapshots(
    ctx: ServerContext,
    symbol: str,
    view: str,
    days: list[date],
    each_slot: bool,
    stats: ReadStats,
    max_files: int,
) -> Iterator[tuple[date, str | None, pl.DataFrame]]:
    acc = ctx.access
    fetched: files.Fetched = {}
    remote = not isinstance(acc.root_of(view), Path)
    if remote and view not in RAW_VIEWS:  # one file a day: fetched side by side
        ahead = days[: max(0, max_files - stats.files)]
        fetched = files.fetch_many([acc.chain_file(view, d, symbol, None) for d in ahead])
    for day in days:
        if stats.files >= max_files:
            stats.stopped_at_file_cap = True
            return
        if view not in RAW_VIEWS:
            path = acc.chain_file(view, day, symbol, None)
            frame = _read(ctx, path, None, stats, fetched)
            if frame is None:
                stats.missing_dates.append(day.isoformat())
            else:
                yield day, None, frame
            continue
        found = False
        for slot, frame in _raw_day(ctx, symbol, view, day, each_slot, stats):
            found = True
            yield day, slot, frame
        if not found:
            stats.missing_dates.append(day.isoformat())


def _raw_day(
    ctx: ServerContext, symbol: str, view: str, day: date, each_slot: bool, stats: ReadStats
) -> Iterator[tuple[str, pl.DataFrame]]:
    acc = ctx.access
    directory = acc.layout.underlying_dir(view, day, symbol)
    entries, _ = acc.list_dir(directory, ctx.limits.max_dir_entries)
    slot_files = {
        f"{e.name[5:7]}:{e.name[7:9]}": e.name
        for e in entries
        if e.name.startswith("slot=") and e.name.endswith(".parquet") and len(e.name) == 17
    }
    packed: dict[str, pl.DataFrame] = {}
    if any(e.name == COMPACTED_FILE for e in entries):
        frame = _read(ctx, acc.compacted_file(view, day, symbol), [*COLUMNS, "slot"], stats)
        if frame is not None and "slot" in frame.columns:
            packed = {
                str(key[0]): part.drop("slot")
                for key, part in frame.partition_by("slot", as_dict=True).items()
            }
    labels = sorted(set(slot_files) | set(packed))
    if not each_slot:
        labels = labels[-1:]
    fetched: files.Fetched = {}
    if not isinstance(directory, Path):  # object store: the day's slot files side by side
        wanted = [acc.chain_file(view, day, symbol, x) for x in labels if x in slot_files]
        fetched = files.fetch_many(wanted)
    for label in labels:
        if label in slot_files:  # a slot file is newer than its compacted copy
            got = _read(ctx, acc.chain_file(view, day, symbol, label), None, stats, fetched)
        else:
            got = packed.get(label)
        if got is not None:
            yield label, got


def _read(
    ctx: ServerContext,
    path: DataPath,
    columns: list[str] | None,
    stats: ReadStats,
    fetched: files.Fetched | None = None,
) -> pl.DataFrame | None:
    got = None if isinstance(path, Path) or not fetched else fetched.get(path.path)
    if isinstance(got, FileNotFoundError) or (got is None and not path.is_file()):
        return None
    stats.files += 1
    try:
        pf = files.parquet_file(path, fetched=fetched)
        names = set(pf.schema_arrow.names)
        table = pf.read(columns=[c for c in (columns or COLUMNS) if c in names])
    except (OSError, pa.ArrowException):
        stats.unreadable.append(ctx.access.relative(path))
        return None
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame
