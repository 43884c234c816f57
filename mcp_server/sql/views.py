"""The stored views as DuckDB views over the Parquet files of the data root.

    intraday, close   raw/ib/chain/view=V/date=D/underlying=S/slot=HHMM.parquet, plus the
                      rows of compacted.parquet whose (date, underlying, slot) has no slot
                      file: a slot file next to a compacted file is the newer copy of that
                      slot (docs/ops-runbook.md, "Compaction"), so nothing counts twice
    daily_clean       clean/ib/chain/view=daily_clean/date=D/underlying=S/part.parquet
    history           clean/ib/history/bar=B/underlying=S/part.parquet
    streaming         raw/ib/streaming/date=D/underlying=S/part-N.parquet

Path keys are read as hive partitions, so `date`, `view` and `bar` are columns too, and a filter
on them skips whole files. A view whose files do not exist yet is an empty view of the
data contract's columns. Files follow shared.schema, so the first file's schema is used
(no per-file schema merge: that would open every footer at bind time).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from shared.schema import DAILY_CLEAN_SCHEMA, HISTORY_SCHEMA, SNAPSHOT_SCHEMA, STREAMING_SCHEMA
from shared.storage import COMPACTED_FILE, Layout

SLOT_KEY = r"date=([0-9-]+)/underlying=([^/]+)/slot=([0-9]{2})([0-9]{2})\.parquet$"


@dataclass(frozen=True)
class StoredView:
    name: str
    root: Path  # the directory the view reads under (for allowed_directories)
    pattern: str  # glob of its files
    schema: pa.Schema
    raw: bool
    compacted: str | None = None  # glob of the compacted files of a raw chain view


def stored_views(layout: Layout) -> dict[str, StoredView]:
    chain_raw = layout.raw / "ib" / "chain"
    views = {}
    for v in ("intraday", "close"):
        base = chain_raw / f"view={v}"
        views[v] = StoredView(
            v, layout.raw, f"{base}/date=*/underlying=*/slot=*.parquet", SNAPSHOT_SCHEMA, True,
            compacted=f"{base}/date=*/underlying=*/{COMPACTED_FILE}",
        )  # fmt: skip
    clean = layout.view_root("daily_clean")
    views["daily_clean"] = StoredView(
        "daily_clean", layout.clean, f"{clean}/date=*/underlying=*/part.parquet",
        DAILY_CLEAN_SCHEMA, False,
    )  # fmt: skip
    views["history"] = StoredView(
        "history", layout.clean, f"{layout.clean}/ib/history/bar=*/underlying=*/part.parquet",
        HISTORY_SCHEMA, False,
    )  # fmt: skip
    views["streaming"] = StoredView(
        "streaming", layout.raw, f"{layout.raw}/ib/streaming/date=*/underlying=*/*.parquet",
        STREAMING_SCHEMA, True,
    )  # fmt: skip
    return views


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _scan(pattern: str) -> str:
    return f"read_parquet({_lit(pattern)}, hive_partitioning = true)"


def view_sql(view: StoredView, has_files: bool, has_compacted: bool) -> str | None:
    """The SELECT of one view; None when it has no file at all (an empty view is used)."""
    if not has_files and not has_compacted:
        return None
    if view.compacted is None or not has_compacted:
        return f"SELECT * FROM {_scan(view.pattern)}"
    # Compacted rows of a slot that also has a slot file are dropped: the file is newer.
    superseded = (
        f"SELECT regexp_extract(file, {_lit(SLOT_KEY)}, 1)::DATE AS d, "
        f"regexp_extract(file, {_lit(SLOT_KEY)}, 2) AS u, "
        f"regexp_extract(file, {_lit(SLOT_KEY)}, 3) || ':' || "
        f"regexp_extract(file, {_lit(SLOT_KEY)}, 4) AS s FROM glob({_lit(view.pattern)})"
    )
    packed = (
        f"SELECT p.* FROM {_scan(view.compacted)} AS p ANTI JOIN ({superseded}) AS f "
        "ON p.trade_date = f.d AND p.underlying = f.u AND p.slot = f.s"
    )
    if not has_files:
        return packed
    return f"SELECT * FROM {_scan(view.pattern)} UNION ALL BY NAME {packed}"


def empty_table(view: StoredView) -> pa.Table:
    """No file yet: the contract's columns and no rows (plus the hive path keys)."""
    fields = list(view.schema)
    keys = {
        "history": [("bar", pa.string())],
        "streaming": [("date", pa.date32())],
    }.get(view.name, [("view", pa.string()), ("date", pa.date32())])
    fields += [pa.field(name, typ) for name, typ in keys if name not in view.schema.names]
    return pa.schema(fields).empty_table()
