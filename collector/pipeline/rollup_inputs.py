"""Reading a day's rollup inputs without opening every intraday file.

The rules (collector/pipeline/rollup.py) only look past the close view for contracts whose
close row has no two-sided quote. So the close files of all underlyings are read at once;
for the underlyings with such rows, the fallback slot's file is read first, then the slot
files from the latest back, each round only for the contracts still unresolved (a good
row found in the fallback slot, or walking back, is final). The result is the same as
reading every file, provided each intraday slot lists no contract the close view lacks:
the day's contracts are frozen in the contract cache, so every slot of the day lists the
same set. When that cannot be taken for granted for an underlying (no close file, an
intraday file the ledger has no row for, or one with more rows than the close file), all
its slot files are read.

A file that cannot be read is moved aside when a read meets it (one error-log line, as
the sweep of qa and selfcheck does) and the rollup goes on as if it were not there;
no file is opened only to check it (the footers of a day's 7,000 files cost more than
the rollup itself).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from collector.pipeline import rollup as R
from collector.pipeline.store import UNREADABLE, Quarantined, quarantine_unreadable
from shared import datafs
from shared import schema as S
from shared.calendar import slot_file_label
from shared.datafs import DataPath
from shared.storage import Layout


@dataclass
class DayFiles:
    """The files the rollup of one day may read, per underlying."""

    close: dict[str, DataPath] = field(default_factory=dict)
    intraday: dict[str, list[DataPath]] = field(default_factory=dict)
    previous: dict[str, DataPath] = field(default_factory=dict)

    def drop(self, gone: Iterable[DataPath]) -> None:
        """Forget files moved aside (a corrupt close file: the underlying has none)."""
        out = set(gone)
        self.close = {s: p for s, p in self.close.items() if p not in out}
        self.previous = {s: p for s, p in self.previous.items() if p not in out}
        for s, paths in list(self.intraday.items()):
            self.intraday[s] = [p for p in paths if p not in out]


def list_day(layout: Layout, day: date, symbols: Iterable[str], with_intraday: bool) -> DayFiles:
    """One directory listing per underlying and view (a glob or a stat per file costs
    more than the rollup's own work at 500 underlyings)."""
    files = DayFiles()
    compacted_name = layout.compacted_file("intraday", day, "X").name
    daily = {
        p.parent.name.split("=", 1)[1]: p
        for p in _listing(layout.date_dir("daily_clean", day), "underlying=", dirs=True)
        for p in [p / layout.chain_file("daily_clean", day, "X").name]
    }
    for sym in symbols:
        close = _listing(layout.underlying_dir("close", day, sym), "slot=", ".parquet")
        if close:
            files.close[sym] = close[-1]  # the close view's last slot
        if with_intraday:
            d = layout.underlying_dir("intraday", day, sym)
            slots = _listing(d, "slot=", ".parquet")
            # a compacted day holds every slot in one file; a slot file beside it is newer
            if _listing(d, compacted_name):
                slots.insert(0, d / compacted_name)
            if slots:
                files.intraday[sym] = slots
        prev = daily.get(sym)
        if prev is not None and datafs.is_file(prev):
            files.previous[sym] = prev
    return files


def _listing(
    directory: DataPath, prefix: str, suffix: str = "", dirs: bool = False
) -> list[DataPath]:
    """Sorted entries of a directory named prefix*suffix (files, or directories); none
    when it does not exist (one os.scandir, or one listing call on an object store)."""
    return [directory / n for n in datafs.names(directory, prefix, suffix, dirs)]


def read_many(
    paths: Sequence[DataPath],
    schema: pa.Schema,
    columns: list[str] | None = None,
    corrupt: list[Quarantined] | None = None,
) -> pl.DataFrame | None:
    """Many Parquet files in one multi-threaded read, `_path` naming each row's file.

    Files written under an older schema (a column fewer, another float width) do not
    share one read plan; they are read one by one and conformed to today's schema. So is
    a batch holding an unreadable file: with `corrupt` given, that file is moved aside and
    listed there, else the read fails.
    """
    if not paths:
        return None
    try:
        # a lazy scan, then the columns: Polars' eager read_parquet drops the
        # include_file_paths column when `columns` is given (polars 2.1)
        scan = pl.scan_parquet([str(p) for p in paths], include_file_paths="_path")
        return (scan.select([*columns, "_path"]) if columns else scan).collect()
    except (pl.exceptions.PolarsError, OSError):
        pass
    frames = []
    for p in paths:
        try:
            table = datafs.read_parquet(p)
        except UNREADABLE as exc:
            if corrupt is None:
                raise
            corrupt.append(quarantine_unreadable(p, exc))
            continue
        frame = pl.DataFrame(S.conform(table, schema).select(columns or schema.names))
        frames.append(frame.with_columns(_path=pl.lit(str(p))))
    return pl.concat(frames, how="vertical_relaxed") if frames else None


@dataclass(frozen=True)
class RollupRead:
    table: pa.Table  # daily_clean rows of every underlying, sorted by underlying, contract
    missing_close: list[str]
    files_read: int
    corrupt: list[Quarantined] = field(default_factory=list)  # moved aside when read
    # underlyings left out of `table`: their earlier daily_clean was built from a raw view
    # that is gone now (retention, a corrupt file moved aside), so it stays as it is
    kept: list[str] = field(default_factory=list)


def rollup_day(
    files: DayFiles,
    *,
    allow_intraday_fallback: bool,
    fallback_slot: str,
    recorded_rows: dict[str, int] | None = None,
) -> RollupRead:
    """daily_clean of every listed underlying; `recorded_rows` are the ledger's intraday
    rows by file path (as the ledger spells it)."""
    corrupt: list[Quarantined] = []
    read = len(files.close) + len(files.previous)
    close = read_many(list(files.close.values()), S.SNAPSHOT_SCHEMA, corrupt=corrupt)
    previous = read_many(
        list(files.previous.values()), S.DAILY_CLEAN_SCHEMA, R.PREVIOUS_COLUMNS, corrupt
    )
    files.drop(q.path for q in corrupt)
    symbols = sorted(set(files.close) | set(files.intraday))
    missing = [s for s in symbols if s not in files.close]
    cands = []
    if close is not None:
        cands.append(R.close_candidates(close.drop("_path")))
    if allow_intraday_fallback and files.intraday:
        parts, n = _intraday_needed(files, cands[0] if cands else None, fallback_slot,
                                    recorded_rows or {}, corrupt)  # fmt: skip
        read += n
        if parts is not None:
            cands.append(R.intraday_candidates(parts, fallback_slot))
    table = R.finish(R.choose(cands), previous.drop("_path") if previous is not None else None)
    kept = inputs_gone(previous, files, allow_intraday_fallback)
    if kept:
        table = table.filter(pc.invert(pc.is_in(table.column("underlying"), pa.array(kept))))
        missing = [s for s in missing if s not in kept]
    return RollupRead(table, missing, read, corrupt, kept)


def inputs_gone(
    previous: pl.DataFrame | None, files: DayFiles, allow_intraday_fallback: bool
) -> list[str]:
    """Underlyings whose earlier daily_clean used a raw view that is no longer there: rows
    from the close view without a close file now, or intraday rows (fallback allowed)
    without intraday files now. Rebuilt, they would be built from less than before (after
    intraday retention, a one-sided close quote in place of a good intraday one), and a
    rerun never replaces data with less data."""
    if previous is None or previous.is_empty():
        return []
    used = previous.group_by("underlying").agg(
        close=(pl.col("rollup_strategy") == R.STRATEGY_CLOSE).any(),
        intraday=(pl.col("rollup_strategy") != R.STRATEGY_CLOSE).any(),
    )
    return sorted(
        str(sym)
        for sym, close, intraday in used.iter_rows()
        if (close and sym not in files.close)
        or (intraday and allow_intraday_fallback and sym not in files.intraday)
    )


def _intraday_needed(
    files: DayFiles,
    close: pl.DataFrame | None,
    fallback_slot: str,
    recorded: dict[str, int],
    corrupt: list[Quarantined],
) -> tuple[pl.DataFrame | None, int]:
    """The intraday rows the rules can pick, in file order per underlying."""
    close_rows: dict[str, int] = {}
    bad = pl.DataFrame(schema={"underlying": pl.String, "conid": pl.Int64})
    if close is not None:
        close_rows = dict(close.group_by("underlying").len().iter_rows())  # type: ignore[arg-type]
        bad = close.filter(pl.col("_tier") == R.TIER_CLOSE_BAD).select(R.KEY)
    full = [
        s
        for s, paths in files.intraday.items()
        if s not in close_rows
        or any(recorded.get(str(p), close_rows[s] + 1) > close_rows[s] for p in paths)
    ]
    order: dict[DataPath, int] = {}
    for paths in files.intraday.values():
        order.update({p: i for i, p in enumerate(paths)})
    frames = [
        f
        for f in [
            read_many(
                [p for s in full for p in files.intraday[s]], S.SNAPSHOT_SCHEMA, None, corrupt
            )
        ]
        if f is not None
    ]
    n = sum(len(files.intraday[s]) for s in full)
    unresolved = bad.filter(~pl.col("underlying").is_in(full))
    walks = {s: _walk(files.intraday[s], fallback_slot) for s in unresolved["underlying"].unique()}
    step = 0
    while unresolved.height:
        want = set(unresolved["underlying"].unique())
        batch = [walks[s][step] for s in sorted(want) if step < len(walks[s])]
        if not batch:
            break
        df = read_many(batch, S.SNAPSHOT_SCHEMA, None, corrupt)
        n += len(batch)
        step += 1
        if df is None:
            continue
        df = df.join(unresolved, on=R.KEY, how="semi")
        frames.append(df)
        found = df.filter(R.good_quote()).select(R.KEY).unique()
        unresolved = unresolved.join(found, on=R.KEY, how="anti")
    if not frames:
        return None, n
    rows = pl.concat(frames, how="vertical_relaxed")
    fidx = rows["_path"].replace_strict(
        {str(p): i for p, i in order.items()}, return_dtype=pl.Int64
    )
    # ties go to the row the reference read last: slot files in name order, rows in file order
    within = pl.int_range(pl.len(), dtype=pl.Int64).over("_path")
    rows = rows.with_columns(_order=fidx * 10_000_000 + within)
    return rows.drop("_path"), n


def _walk(paths: list[DataPath], fallback_slot: str) -> list[DataPath]:
    """The fallback slot's file first, then the others from the latest back."""
    name = f"slot={slot_file_label(fallback_slot)}.parquet"
    first = [p for p in paths if p.name == name]
    return first + [p for p in reversed(paths) if p.name != name]
