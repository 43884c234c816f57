"""Reading a day's stored data for QA: the partition files of one view and date, each opened once.

An intraday slot file whose ledger row vouches for it is not opened at all: its writer
counted what QA measures (rows, quoted rows, rows served delayed) and recorded it with the
file's size, so a file of that size and no newer than its row, whose Parquet frame is
intact ('PAR1' at both ends, a footer length that fits), is taken from the ledger. Any
other file (no row, another size, rewritten since, a compacted file, a row from before the
writer counted) is read.

A file the read cannot open is a finding: it is moved aside (store.quarantine) and the day
is measured without it. The files are read in one multi-file scan first; the unreadable
ones are looked for only when that scan fails (a footer check of every file beforehand
cost as much as the read itself: 7,000 slot files a day at the scale of the S&P 500).
The file I/O of the checks is in this module: `partition_files`, `_frame_intact`,
`_scan`, `_read_one`, and the ledger read in `_vouched`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl

from collector.ops.checks.qa import SUMMARY_KEYS, SUMMARY_SCHEMA, summarize_intraday
from collector.pipeline.store import UNREADABLE, Quarantined, quarantine_if_unreadable
from shared import datafs
from shared.calendar import slot_file_label
from shared.config import AppConfig
from shared.datafs import DataPath
from shared.ledger import LedgerReader
from shared.schema import SNAPSHOT_SCHEMA
from shared.storage import Layout, check_symbol
from shared.universe import universe_symbols

# What a failed read raises: polars' errors, or pyarrow's on the per-file path.
READ_ERRORS = (pl.exceptions.PolarsError, *UNREADABLE)


def partition_files(directory: DataPath) -> list[DataPath]:
    """Parquet files a reader would see: no temp files, no hidden or in-flight names."""
    return _paths(_listing(directory), directory)


def _paths(files: list[str], directory: DataPath) -> list[DataPath]:
    if isinstance(directory, Path):
        return [Path(f) for f in files]
    return [datafs.path_of(f) for f in files]


def _listing(directory: DataPath) -> list[str]:
    """partition_files as strings, in the same order (a Path per file costs more than the
    listing itself at 7,000 files). On an object store: one listing of the prefix, the
    names as URIs (s3://bucket/key), which Polars reads directly."""
    if not isinstance(directory, Path):
        base = str(directory).rstrip("/")
        names = [str(e.path) for e in datafs.list_files(directory, "*.parquet")]
        names = [n for n in names if not any(p.startswith(".") for p in n[len(base) :].split("/"))]
        return sorted(names, key=lambda f: f.split("/"))
    found: list[str] = []

    def walk(path: str) -> None:
        try:
            entries = list(os.scandir(path))
        except (FileNotFoundError, NotADirectoryError):
            return
        for e in entries:
            if e.name.startswith("."):
                continue
            if e.is_dir(follow_symlinks=False):  # as Path.rglob: no symlinked folders
                walk(e.path)
            elif e.name.endswith(".parquet"):
                found.append(e.path)

    walk(str(directory))  # os.scandir: a tenth of Path.rglob's time over 7,000 files
    return sorted(found, key=lambda f: f.split(os.sep))  # Path order: part by part


def _scan(files: list[DataPath], columns: list[str]) -> pl.LazyFrame:
    return pl.scan_parquet([str(f) for f in files], hive_partitioning=False).select(columns)


def _read_one(path: DataPath, columns: list[str] | None = None) -> pl.DataFrame:
    return pl.read_parquet(str(path), columns=columns, hive_partitioning=False)


def _read_files(
    files: list[DataPath],
    read_many: Callable[[list[DataPath]], pl.DataFrame],
    read_each: Callable[[DataPath], pl.DataFrame],
) -> tuple[list[pl.DataFrame], list[Quarantined]]:
    """`read_many(files)` as one frame; when it fails, the files whose footer does not read
    are moved aside and the rest read again (together, else one by one: files of an older
    schema). A file that fails alone and that pyarrow cannot read whole is moved aside too;
    one that pyarrow reads is not corrupt, and its error is raised."""
    if not files:
        return [], []
    try:
        return [read_many(files)], []
    except READ_ERRORS:
        pass
    corrupt = [q for q in map(quarantine_if_unreadable, files) if q is not None]
    moved = {q.path for q in corrupt}
    rest = [f for f in files if f not in moved]
    if not rest:
        return [], corrupt
    try:
        return [read_many(rest)], corrupt
    except READ_ERRORS:
        pass
    frames = []
    for f in rest:
        try:
            frames.append(read_each(f))
        except READ_ERRORS:
            q = quarantine_if_unreadable(f, whole=True)
            if q is None:
                raise
            corrupt.append(q)
    return frames, corrupt


def read_view(
    layout: Layout, view: str, trade_date: date, columns: list[str]
) -> tuple[pl.DataFrame, list[Quarantined]]:
    """The chosen columns of every file of `view` on `trade_date` (empty frame when none),
    and the files moved aside as unreadable."""
    files = partition_files(layout.date_dir(view, trade_date))
    frames, corrupt = _read_files(
        files, lambda fs: _scan(fs, columns).collect(), lambda f: _read_one(f, columns)
    )
    if not frames:
        return pl.DataFrame({c: [] for c in columns}), corrupt
    return pl.concat(frames, how="vertical_relaxed"), corrupt


SNAPSHOT_POLARS = pl.DataFrame(SNAPSHOT_SCHEMA.empty_table()).schema
INTRADAY_QA_COLUMNS = [
    "underlying", "slot", "delayed_fallback", "market_data_type", "data_quality_flags",
]  # fmt: skip


MAGIC = b"PAR1"


def _frame_intact(path: str, size: int) -> bool:
    """'PAR1' at both ends and a footer length that fits: a truncated, zero-filled or
    overwritten file fails (two reads of a few bytes, against a footer parse per file)."""
    if size < 12:
        return False
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        head, tail = os.pread(fd, 4, 0), os.pread(fd, 8, size - 8)
    except OSError:
        return False
    finally:
        os.close(fd)
    footer = int.from_bytes(tail[:4], "little")
    return head == MAGIC and tail[4:] == MAGIC and footer + 12 <= size


def _counts(
    rec: dict[str, Any], path: str, names: dict[str, str]
) -> tuple[str, str, int, int, int] | None:
    """(underlying, slot, rows, quoted, delayed) when the ledger row vouches for the slot
    file at `path` (see the module note), else None. `names`: slot label -> file name."""
    rows, fill, delayed = rec["rows"], rec["quote_fill"], rec["served_delayed"]
    if delayed is None or (fill is None and rows):
        return None
    slot, underlying = str(rec["slot"]), str(rec["underlying"])
    if slot not in names:
        names[slot] = f"slot={slot_file_label(slot)}.parquet"
    folder, name = os.path.split(path)
    if name != names[slot] or os.path.basename(folder) != f"underlying={underlying}":
        return None
    try:
        st = os.stat(path)
        written = datetime.fromisoformat(str(rec["written_at"])).timestamp()
    except (OSError, ValueError):
        return None
    if st.st_size != rec["bytes"] or int(st.st_mtime) > written:
        return None
    if not _frame_intact(path, st.st_size):
        return None
    return underlying, slot, int(rows), round((fill or 0.0) * rows), int(delayed)


def _vouched(layout: Layout, trade_date: date, files: list[str]) -> tuple[pl.DataFrame, list[str]]:
    """The summary of the files the ledger vouches for, and the files to read."""
    per_path: dict[str, list[dict[str, Any]]] = {}
    for rec in LedgerReader(layout.ledger).file_summaries(trade_date, "intraday"):
        per_path.setdefault(str(rec["path"]), []).append(rec)
    vouched, rest = [], []
    names: dict[str, str] = {}
    for f in files:
        recs = per_path.get(f, [])
        one = _counts(recs[0], f, names) if len(recs) == 1 else None
        if one is None:
            rest.append(f)
        else:
            vouched.append(one)
    frame = pl.DataFrame(vouched, schema=SUMMARY_SCHEMA, orient="row")
    return frame.group_by(SUMMARY_KEYS).sum(), rest


def intraday_summary(
    layout: Layout, trade_date: date, use_ledger: bool = True
) -> tuple[pl.DataFrame, list[Quarantined]]:
    """The day's intraday view summarised per (underlying, slot) (qa.summarize_intraday),
    and the files moved aside as unreadable. Files the ledger vouches for are not opened
    (`use_ledger=False` reads them all); the rest are read in one streaming multi-file scan,
    so the rows are never all held in memory."""
    listed = _listing(layout.date_dir("intraday", trade_date))
    known, listed = _vouched(layout, trade_date, listed) if use_ledger else (None, listed)
    files = _paths(listed, layout.date_dir("intraday", trade_date))

    def many(fs: list[DataPath]) -> pl.DataFrame:
        return _collect(summarize_intraday(_scan(fs, INTRADAY_QA_COLUMNS)), streaming=True)

    def each(f: DataPath) -> pl.DataFrame:
        flags = "data_quality_flags" in pq_names(f)
        return _collect(summarize_intraday(_read_one(f).lazy(), flags=flags))

    frames, corrupt = _read_files(files, many, each)
    if known is not None and known.height:
        frames.append(known)
    if not frames:
        empty = pl.DataFrame(schema={c: SNAPSHOT_POLARS[c] for c in INTRADAY_QA_COLUMNS})
        return _collect(summarize_intraday(empty.lazy())), corrupt
    if len(frames) == 1:
        return frames[0], corrupt
    same = [f.select(list(SUMMARY_SCHEMA)).cast(SUMMARY_SCHEMA) for f in frames]
    return pl.concat(same).group_by(SUMMARY_KEYS).sum(), corrupt


def pq_names(path: DataPath) -> list[str]:
    return list(datafs.read_parquet_metadata(path).schema.to_arrow_schema().names)


def _collect(frame: pl.DataFrame | pl.LazyFrame, streaming: bool = False) -> pl.DataFrame:
    if isinstance(frame, pl.DataFrame):
        return frame
    return frame.collect(engine="streaming") if streaming else frame.collect()


def scheduled_symbols(
    cfg: AppConfig, trade_date: date, explicit: list[str] | None = None, every_shard: bool = False
) -> list[str]:
    """Who QA expects data for: explicit symbols, else those with a contract cache for the day
    (the precheck writes one per scheduled symbol), else the intraday universe. With shards,
    the whole universe: each collector's caches may live on its own host."""
    if explicit:
        return sorted({check_symbol(s) for s in explicit})
    if every_shard:
        return sorted(universe_symbols(cfg, "intraday"))
    layout = Layout.from_config(cfg)
    suffix = f"_{trade_date.isoformat()}.json"
    cached = sorted(p.name[: -len(suffix)] for p in layout.contracts_cache.glob(f"*{suffix}"))
    if cached:
        return cached
    return sorted(universe_symbols(cfg, "intraday"))
