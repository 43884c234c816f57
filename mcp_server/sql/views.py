"""The stored views as DuckDB views over the Parquet files of the data root.

    intraday, close   raw/ib/chain/view=V/date=D/underlying=S/slot=HHMM.parquet, plus the
                      rows of compacted.parquet whose (date, underlying, slot) has no slot
                      file: a slot file next to a compacted file is the newer copy of that
                      slot (docs/ops-runbook.md, "Compaction"), so nothing counts twice
    daily_clean       clean/ib/chain/view=daily_clean/date=D/underlying=S/part.parquet
    history           clean/ib/history/bar=B/underlying=S/part.parquet
    streaming         raw/ib/streaming/date=D/underlying=S/part-N.parquet

`<view>_on(date, underlying)` (daily_clean, intraday, close, streaming) reads the files of one
date and underlying by path: milliseconds where the view globs every file of the history.

Path keys are read as hive partitions, so `date`, `view` and `bar` are columns too, and a filter
on them skips whole files. A view whose files do not exist yet is an empty view of the
data contract's columns. Files follow shared.schema, so the first file's schema is used
(no per-file schema merge: that would open every footer at bind time).
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from shared.datafs import DataPath
from shared.schema import DAILY_CLEAN_SCHEMA, HISTORY_SCHEMA, SNAPSHOT_SCHEMA, STREAMING_SCHEMA
from shared.storage import COMPACTED_FILE, Layout

SLOT_KEY = r"date=([0-9-]+)/underlying=([^/]+)/slot=([0-9]{2})([0-9]{2})\.parquet$"


@dataclass(frozen=True)
class StoredView:
    name: str
    root: DataPath  # the directory the view reads under (for allowed_directories)
    pattern: str  # glob of its files
    schema: pa.Schema
    raw: bool
    compacted: str | None = None  # glob of the compacted files of a raw chain view
    day_dir: str | None = None  # the folder holding date=D/underlying=S (macro <name>_on)


def stored_views(layout: Layout) -> dict[str, StoredView]:
    chain_raw = layout.raw / "ib" / "chain"
    views = {}
    for v in ("intraday", "close"):
        base = chain_raw / f"view={v}"
        views[v] = StoredView(
            v, layout.raw, f"{base}/date=*/underlying=*/slot=*.parquet", SNAPSHOT_SCHEMA, True,
            compacted=f"{base}/date=*/underlying=*/{COMPACTED_FILE}", day_dir=str(base),
        )  # fmt: skip
    clean = layout.view_root("daily_clean")
    views["daily_clean"] = StoredView(
        "daily_clean", layout.clean, f"{clean}/date=*/underlying=*/part.parquet",
        DAILY_CLEAN_SCHEMA, False, day_dir=str(clean),
    )  # fmt: skip
    views["history"] = StoredView(
        "history", layout.clean, f"{layout.clean}/ib/history/bar=*/underlying=*/part.parquet",
        HISTORY_SCHEMA, False,
    )  # fmt: skip
    views["streaming"] = StoredView(
        "streaming", layout.raw, f"{layout.raw}/ib/streaming/date=*/underlying=*/*.parquet",
        STREAMING_SCHEMA, True, day_dir=f"{layout.raw}/ib/streaming",
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


def macro_sql(view: StoredView) -> str | None:
    """`<view>_on(date, underlying)`: the files of one date and underlying (either may be a
    glob such as '2026-11-*' or '*'), opened by path instead of globbing the whole history.
    A raw chain view's compacted rows of a slot that has its own slot file are dropped, as
    in the view."""
    if view.day_dir is None:
        return None
    files = f"{_lit(view.day_dir + '/date=')} || d || '/underlying=' || s || '/*.parquet'"
    scan = f"read_parquet({files}, hive_partitioning = true, filename = true)"
    if view.compacted is None:
        body = f"SELECT * EXCLUDE (filename) FROM {scan}"
    else:
        packed = f"filename LIKE '%/{COMPACTED_FILE}'"
        body = (
            f"SELECT * EXCLUDE (filename, has_file) FROM (SELECT *, bool_or(NOT {packed}) OVER "
            f"(PARTITION BY trade_date, underlying, slot) AS has_file FROM {scan}) "
            f"WHERE NOT ({packed} AND has_file)"
        )
    return f"CREATE MACRO {view.name}_on(d, s) AS TABLE {body}"


def empty_table(view: StoredView) -> pa.Table:
    """No file yet: the contract's columns and no rows (plus the hive path keys)."""
    fields = list(view.schema)
    keys = {
        "history": [("bar", pa.string())],
        "streaming": [("date", pa.date32())],
    }.get(view.name, [("view", pa.string()), ("date", pa.date32())])
    fields += [pa.field(name, typ) for name, typ in keys if name not in view.schema.names]
    return pa.schema(fields).empty_table()
