"""A raw view's day file: every slot of one date and underlying in compacted.parquet.

    view=intraday/date=D/underlying=SYM/slot=0930.parquet, slot=1000.parquet, ...
 -> view=intraday/date=D/underlying=SYM/compacted.parquet   (all slots, `slot` column kept)

Merging a day's slot files into one file is what makes the intraday view small (the
footer of a 390-row slot file is a fifth of its bytes; docs/benchmarks.md, "Storage").
Two writers use the one merge rule below: compaction (collector/ops/maintenance), and the
slot writer when a slot is collected again after its day was compacted, which rewrites
the compacted file instead of leaving a second copy beside it, so a plain glob over the
tree never counts a row twice.
"""

from __future__ import annotations

import polars as pl
import pyarrow as pa

from shared import datafs
from shared.datafs import DataPath
from shared.schema import SNAPSHOT_SCHEMA, conform

UNIQUE_KEY = ["trade_date", "sample_time", "conid"]
# contract first, then slot: a contract's rows sit together, which compresses best
SORT = ["expiry", "strike", "right", "conid", "slot"]


def _frame(table: pa.Table) -> pl.DataFrame:
    frame = pl.from_arrow(conform(table, SNAPSHOT_SCHEMA))
    assert isinstance(frame, pl.DataFrame)
    return frame


def merge_tables(compacted: pa.Table | None, slot_tables: list[pa.Table]) -> tuple[pa.Table, int]:
    """Pure: union of the slot tables and the compacted rows of other slots, unique by key.

    A slot present in the new slot tables replaces its compacted copy; an exact key repeat
    keeps the newest. Returns the merged table (data-contract schema) and duplicates dropped.
    """
    frames = [_frame(t) for t in slot_tables]
    new_slots: set[str] = set()
    for frame in frames:
        new_slots.update(frame.get_column("slot").unique().to_list())
    if compacted is not None:
        frames.insert(0, _frame(compacted).filter(~pl.col("slot").is_in(sorted(new_slots))))
    if not frames:
        return SNAPSHOT_SCHEMA.empty_table(), 0
    return _unique_sorted(pl.concat(frames, how="vertical"))


def read_day_files(paths: list[DataPath]) -> pl.DataFrame:
    """Slot files (and a compacted file) of one underlying-date in one multi-file read.

    Files of an older schema (a column fewer, float64 model values) cannot share one read
    plan; they are read one by one and conformed.
    """
    try:
        return pl.read_parquet([str(p) for p in paths])
    except (pl.exceptions.PolarsError, OSError):
        return pl.concat([_frame(datafs.read_parquet(p)) for p in paths], how="vertical_relaxed")


def merge_frames(compacted: pl.DataFrame | None, slots: pl.DataFrame) -> tuple[pa.Table, int]:
    """merge_tables over frames already read: the new slots replace their compacted copy."""
    frames = [slots]
    if compacted is not None:
        new_slots = slots.get_column("slot").unique().to_list()
        frames.insert(0, compacted.filter(~pl.col("slot").is_in(new_slots)))
    return _unique_sorted(pl.concat(frames, how="vertical_relaxed"))


def _unique_sorted(merged: pl.DataFrame) -> tuple[pa.Table, int]:
    """One row per key (the last), in SORT order, as a data-contract table; and the
    number of rows dropped. Counting the keys costs a third of deduplicating, and a day's
    slot files rarely repeat a key, so the dedup runs only when one repeats."""
    unique = merged
    if merged.select(pl.struct(UNIQUE_KEY).n_unique()).item() != merged.height:
        unique = merged.unique(subset=UNIQUE_KEY, keep="last", maintain_order=True)
    # large (not view) strings: conforming them to the contract's types is a cheap cast
    table = unique.sort(SORT).to_arrow(compat_level=pl.CompatLevel.oldest())
    return conform(table, SNAPSHOT_SCHEMA), merged.height - unique.height
