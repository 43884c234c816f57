"""Reads of weekly-compacted raw partitions.

`opt-data compact` merges a date's slot=HHMM.parquet files of one underlying into
compacted.parquet (every slot's rows, told apart by the `slot` column; see
docs/ops-runbook.md, "Compaction"). A slot file found next to it was collected again
after compaction and is the newer copy of that slot, so readers prefer it.

Both functions raise OSError or pyarrow.ArrowException on an unreadable file; callers
turn that into their own message.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from shared.datafs import DataPath
from shared.queries import files

SLOT_COLUMN = "slot"


def slot_counts(path: DataPath) -> dict[str, int]:
    """Rows per slot label ("HH:MM"), reading only the `slot` column."""
    column = files.read_table(path, columns=[SLOT_COLUMN]).column(SLOT_COLUMN)
    counts = pc.value_counts(column)
    return {
        str(v): int(n)
        for v, n in zip(
            counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True
        )
        if v is not None
    }


def read_slot(path: DataPath, slot: str, columns: list[str] | None) -> pa.Table:
    """The rows of one slot (only `columns` the file has; None: all), filtered while reading."""
    dataset = files.dataset(path)
    names = dataset.schema.names
    if SLOT_COLUMN not in names:
        raise pa.ArrowInvalid(f"{path.name} has no {SLOT_COLUMN!r} column")
    wanted = [c for c in columns if c in names] if columns else None
    return dataset.to_table(columns=wanted, filter=pc.field(SLOT_COLUMN) == slot)
