"""get_partition_issues: what is wrong with the partitions of the last few sessions.

Per session and view it compares three lists - what the calendar and universe expect,
what the ledger recorded, what the date directory holds (one bounded listing) - and then
looks inside files, newest first, up to a per-call budget of files.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import polars as pl
import pyarrow as pa

from shared.calendar import get_session, now_et
from shared.datafs import DataPath
from shared.due import due_slots, recent_sessions
from shared.queries import files
from shared.queries.compacted import SLOT_COLUMN, slot_counts
from shared.queries.context import ServerContext
from shared.queries.limits import Meta, clamp
from shared.queries.paths import QueryError
from shared.queries.results import Page, records_table
from shared.queries.shards import by_shard, missing, shards_of_day
from shared.storage import COMPACTED_FILE, RAW_VIEWS

LOW_FILL = 0.8  # quote or greeks fill below this is reported as low_fill
PARQUET_MIN_BYTES = 12  # magic + footer length + magic


@dataclass
class Scan:
    """Issues found so far and the budget of files still allowed to be opened."""

    budget: int
    issues: list[dict[str, Any]] = field(default_factory=list)
    files_read: int = 0
    partial: bool = False
    moved: int = 0  # files gone between the listing and the read (compaction running)

    def add(self, day: date, view: str, sym: str, slot: str, kind: str, detail: Any = None) -> None:
        self.issues.append(
            {"date": day.isoformat(), "view": view, "underlying": sym, "slot": slot or None,
             "kind": kind, "detail": detail}
        )  # fmt: skip

    def may_read(self) -> bool:
        if self.files_read >= self.budget:
            self.partial = True
            return False
        self.files_read += 1
        return True


def get_partition_issues(
    ctx: ServerContext,
    days: int | None,
    view: str | None,
    limit: int | None,
    now: datetime | None = None,
    page: Page | None = None,
) -> dict[str, Any]:
    meta = Meta()
    n_days = meta.apply(clamp(ctx.limits.days, days), "days")
    n = meta.apply(clamp(ctx.limits.rows, limit))
    views = ctx.access.views_or_all(view)
    meta.add_source("ledger:partitions")
    meta.add_source("calendar:XNYS")
    scan = Scan(budget=ctx.limits.max_files_read)
    clock = now_et(now)
    checked: list[dict[str, Any]] = []
    for day in recent_sessions(n_days, clock.date()):
        session = get_session(day)
        assert session is not None
        due = due_slots(ctx.cfg, session, clock)
        for v in views:
            stats = _check_view_day(ctx, scan, v, day, due[v], meta)
            checked.append({"date": day.isoformat(), "view": v, **stats})
    order = {"missing_shard": -1, "missing": 0, "corrupt": 1, "empty": 2, "ledger_file_missing": 3}
    ranked = sorted(scan.issues, key=lambda i: (i["date"], -order.get(i["kind"], 9)), reverse=True)
    counts = Counter(i["kind"] for i in scan.issues)
    meta.extra.update({"files_read": scan.files_read, "partial": scan.partial or bool(scan.moved)})
    if scan.moved:
        meta.notes.append(
            f"{scan.moved} file(s) moved while they were checked (compaction running?): ask again"
        )
    if scan.partial:
        meta.notes.append(
            f"looked inside {scan.budget} files (the per-call cap); older files were not opened"
        )
    issues = records_table(ranked, meta, n, page)
    return {"summary": dict(counts), "checked": checked, "issues": issues, "meta": meta.as_dict()}


@dataclass
class Listing:
    """What one date directory holds, from bounded listings (and compacted `slot` columns)."""

    files: dict[tuple[str, str], DataPath] = field(default_factory=dict)  # (symbol, slot) -> file
    tmps: list[DataPath] = field(default_factory=list)
    cut: bool = False
    packed: dict[str, dict[str, int]] = field(default_factory=dict)  # symbol -> rows per slot
    broken: dict[str, tuple[DataPath, str]] = field(default_factory=dict)  # unreadable compacted
    sizes: dict[DataPath, int] = field(default_factory=dict)  # from an object-store listing


def _listing(ctx: ServerContext, view: str, day: date) -> Listing:
    """Parquet files of a date directory keyed by (symbol, slot), plus leftover *.tmp files.

    A compacted file stands for every slot its `slot` column holds (that one column is read
    here, whatever the look-inside budget); a slot file next to it is newer and wins.
    """
    directory = ctx.access.date_dir(view, day)
    cap = ctx.limits.max_dir_entries
    out = Listing()
    dirs, nested, out.cut = files.list_two_levels(directory, "underlying=", cap)
    for d in dirs:
        if d.name.endswith(".tmp"):
            out.tmps.append(directory / d.name)
        if not d.is_dir() or not d.name.startswith("underlying="):
            continue
        sym = d.name.split("=", 1)[1]
        sym_dir = directory / d.name
        inner, inner_cut = nested.get(d.name, ([], False))
        out.cut = out.cut or inner_cut
        slot_files: dict[tuple[str, str], DataPath] = {}
        for f in inner:
            if isinstance(f, files.RemoteEntry):  # the listing gave the size: no HEAD later
                out.sizes[sym_dir / f.name] = f.size
            if f.name.endswith(".tmp"):
                out.tmps.append(sym_dir / f.name)
            elif f.name == "part.parquet":
                slot_files[(sym, "")] = sym_dir / f.name
            elif f.name.startswith("slot=") and f.name.endswith(".parquet"):
                label = f.name[5:9]
                slot_files[(sym, f"{label[:2]}:{label[2:]}")] = sym_dir / f.name
            elif f.name == COMPACTED_FILE and view in RAW_VIEWS:
                _add_compacted(ctx, out, view, day, sym)
        out.files.update(slot_files)
    return out


def _add_compacted(ctx: ServerContext, out: Listing, view: str, day: date, sym: str) -> None:
    try:
        path = ctx.access.compacted_file(view, day, sym)
    except QueryError:
        return  # not a valid symbol directory, or it leads outside the data root
    try:
        counts = slot_counts(path)
    except (OSError, pa.ArrowException) as exc:
        out.broken[sym] = (path, f"{type(exc).__name__}: {str(exc)[:200]}")
        return
    out.packed[sym] = counts
    for slot in counts:
        out.files[(sym, slot)] = path


def _check_view_day(
    ctx: ServerContext, scan: Scan, view: str, day: date, due: list[str], meta: Meta
) -> dict[str, Any]:
    recorded = {(r["underlying"], r["slot"]): r for r in ctx.ledger.partitions_for_date(day, view)}
    listing = _listing(ctx, view, day)
    on_disk = listing.files
    expected = {(s, slot) for s in ctx.universe_for(view) for slot in due}
    shards = by_shard(
        shards_of_day(ctx, day), ctx.universe_for(view), due, recorded.keys() | on_disk.keys()
    )
    for label in missing(shards):
        scan.add(day, view, "", "", "missing_shard", f"shard {label} wrote none of its partitions")
    for sym, slot in sorted(expected - recorded.keys() - on_disk.keys()):
        scan.add(
            day, view, sym, slot, "missing", "expected by the calendar and universe, not written"
        )
    for tmp in listing.tmps:
        scan.add(day, view, _sym_of(tmp), "", "leftover_tmp", ctx.access.relative(tmp))
    for sym, (_, error) in sorted(listing.broken.items()):
        scan.add(day, view, sym, "", "corrupt", f"{COMPACTED_FILE}: {error}")
    for key in sorted(on_disk.keys() - recorded.keys()):
        scan.add(day, view, *key, "unrecorded_file", "file on disk without a ledger row")
    for key, rec in sorted(recorded.items()):
        sym, slot = key
        found = on_disk.get(key)
        if found is None:
            if rec["rows"] == 0 and sym in listing.packed:
                # compaction drops an empty slot's file; the slot stays what it was
                scan.add(day, view, sym, slot, "empty", {"rows": 0, "file": COMPACTED_FILE})
            elif not listing.cut and sym not in listing.broken:
                # (the slots of an unreadable compacted file are reported as it is: corrupt)
                scan.add(day, view, sym, slot, "ledger_file_missing", rec["path"])
            continue
        if found.name == COMPACTED_FILE:
            _check_compacted_slot(scan, view, day, sym, slot, rec, listing.packed[sym][slot])
        else:
            _check_recorded(scan, view, day, sym, slot, rec, found, listing.sizes.get(found))
    opened: dict[DataPath, tuple[str, str]] = {}  # a compacted file holds many slots: once
    for (sym, slot), path in sorted(on_disk.items()):
        if path not in opened and scan.may_read():
            opened[path] = (sym, "" if path.name == COMPACTED_FILE else slot)
    fetched = files.fetch_many(list(opened))  # object store: the GETs run side by side
    for path, (sym, label) in opened.items():
        _look_inside(scan, view, day, sym, label, path, listing.sizes.get(path), fetched)
    if listing.cut:
        meta.notes.append(
            f"{view} {day}: directory listing stopped at {ctx.limits.max_dir_entries} entries"
        )
    return {
        "expected": len(expected),
        "recorded": len(recorded),
        "files": len(on_disk),
        "compacted_files": len(listing.packed) + len(listing.broken),
        "tmp_files": len(listing.tmps),
        **({"shards": shards} if shards else {}),
    }


def _sym_of(path: DataPath) -> str:
    part = next((p for p in path.parts if p.startswith("underlying=")), "underlying=")
    return part.split("=", 1)[1]


def _size(scan: Scan, path: DataPath, listed: int | None) -> int | None:
    """The file's size (the listing's when it gave one); None, counted as moved, when the
    file left since the listing (compaction merging it): not an issue."""
    if listed is not None:
        return listed
    try:
        return files.size(path)
    except FileNotFoundError:
        scan.moved += 1
        return None


def _check_recorded(
    scan: Scan,
    view: str,
    day: date,
    sym: str,
    slot: str,
    rec: dict[str, Any],
    path: DataPath,
    listed: int | None = None,
) -> None:
    size = _size(scan, path, listed)
    if size is None:
        return
    if rec["rows"] == 0 or size == 0:
        scan.add(day, view, sym, slot, "empty", {"rows": rec["rows"], "bytes": size})
    elif size != rec["bytes"]:
        scan.add(
            day,
            view,
            sym,
            slot,
            "size_mismatch",
            {"ledger_bytes": rec["bytes"], "file_bytes": size},
        )
    _check_ledger_row(scan, view, day, sym, slot, rec)


def _check_compacted_slot(
    scan: Scan, view: str, day: date, sym: str, slot: str, rec: dict[str, Any], rows: int
) -> None:
    """A slot inside a compacted file: its ledger bytes are a share, so compare rows instead."""
    if rows != rec["rows"]:
        scan.add(
            day,
            view,
            sym,
            slot,
            "size_mismatch",
            {"ledger_rows": rec["rows"], "file_rows": rows, "file": COMPACTED_FILE},
        )
    _check_ledger_row(scan, view, day, sym, slot, rec)


def _check_ledger_row(
    scan: Scan, view: str, day: date, sym: str, slot: str, rec: dict[str, Any]
) -> None:
    """What the collector recorded about a partition: low fill, delayed rows."""
    fills = {
        k: rec[k] for k in ("quote_fill", "greeks_fill") if rec[k] is not None and rec[k] < LOW_FILL
    }
    if fills:
        scan.add(day, view, sym, slot, "low_fill", fills)
    if rec["delayed_rows"]:
        scan.add(
            day,
            view,
            sym,
            slot,
            "delayed_rows",
            {"delayed_rows": rec["delayed_rows"], "rows": rec["rows"]},
        )


def _look_inside(
    scan: Scan,
    view: str,
    day: date,
    sym: str,
    slot: str,
    path: DataPath,
    listed: int | None = None,
    fetched: files.Fetched | None = None,
) -> None:
    """Open one file: corrupt footer, duplicate keys, and for daily_clean fallbacks and OI."""
    size = _size(scan, path, listed)
    if size is None:
        return
    if size < PARQUET_MIN_BYTES:
        scan.add(day, view, sym, slot, "corrupt", "shorter than a Parquet footer")
        return
    clean = view == "daily_clean"
    packed = path.name == COMPACTED_FILE
    cols = ["conid", "rollup_strategy", "open_interest"] if clean else ["conid", "sample_time"]
    if packed:
        cols.append(SLOT_COLUMN)
    try:
        pf = files.parquet_file(path, fetched=fetched)
        frame = pl.from_arrow(pf.read(columns=[c for c in cols if c in pf.schema_arrow.names]))
    except FileNotFoundError:
        scan.moved += 1  # moved while it was read (compaction): not corrupt
        return
    except (OSError, pa.ArrowException) as exc:
        scan.add(day, view, sym, slot, "corrupt", f"{type(exc).__name__}: {str(exc)[:200]}")
        return
    assert isinstance(frame, pl.DataFrame)
    if frame.is_empty():
        return
    keys = [
        c for c in ("conid", "sample_time") if c in frame.columns and (not clean or c == "conid")
    ]
    if packed:
        for slot_label, dups in _duplicates_by_slot(frame, keys):
            detail = {"duplicate_rows": dups, "key": keys, "file": COMPACTED_FILE}
            scan.add(day, view, sym, slot_label, "duplicates", detail)
        return
    dups = frame.height - frame.select(keys).unique().height
    if dups:
        scan.add(day, view, sym, slot, "duplicates", {"duplicate_rows": dups, "key": keys})
    if clean and "rollup_strategy" in frame.columns:
        fallback = frame.filter(pl.col("rollup_strategy") != "close")
        if fallback.height:
            by = dict(Counter(fallback["rollup_strategy"].to_list()))
            scan.add(
                day,
                view,
                sym,
                slot,
                "rollup_fallback",
                {"rows": fallback.height, "by_strategy": by},
            )
    if clean and "open_interest" in frame.columns:
        missing = frame["open_interest"].null_count()
        if missing:
            scan.add(day, view, sym, slot, "missing_oi", {"rows": missing, "of": frame.height})


def _duplicates_by_slot(frame: pl.DataFrame, keys: Sequence[str]) -> list[tuple[str, int]]:
    """(slot, repeated rows) of a compacted file's frame, for the slots that have any."""
    per_slot = (
        frame.group_by(SLOT_COLUMN)
        .agg((pl.len() - pl.struct(keys).n_unique()).alias("dups"))
        .filter(pl.col("dups") > 0)
        .sort(SLOT_COLUMN)
    )
    return [(str(s), int(n)) for s, n in per_slot.iter_rows()]
