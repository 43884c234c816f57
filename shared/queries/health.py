"""health_overview: freshness, today's coverage, quality and the last checks, in one call.

Cost does not grow with history, and lists no data directory: the ledger answers by index
(view, trade_date) and the calendar says what was expected. (Listing the latest date
directory per underlying took 65% of a call and grew with the universe; what is on disk
but not in the ledger, *.tmp files included, is get_partition_issues' job.)
"""

from __future__ import annotations

import shutil
import threading
from datetime import date, datetime
from pathlib import Path
from typing import Any

from shared.calendar import get_session, previous_session, slot_datetime
from shared.calendar import now_et as clock_now
from shared.due import due_slots, recent_sessions, slots_of
from shared.queries.context import ServerContext
from shared.queries.frames import ratio
from shared.queries.limits import Meta
from shared.queries.shards import (
    by_shard,
    missing,
    shards_of_day,
    streaming_coverage,
)
from shared.storage import STREAMING_VIEW

VIEWS = ("intraday", "close", "daily_clean")


def health_overview(ctx: ServerContext, now: datetime | None = None) -> dict[str, Any]:
    meta = Meta()
    meta.add_source("ledger")
    meta.add_source("calendar:XNYS")
    now_et = clock_now(now)
    day = recent_sessions(1, now_et.date())[0]
    session = get_session(day)
    assert session is not None
    slots = slots_of(ctx.cfg, session)
    due = due_slots(ctx.cfg, session, now_et)
    summary = _Summaries(ctx)
    result: dict[str, Any] = {
        "as_of": now_et.isoformat(timespec="seconds"),
        "session": {
            "date": day.isoformat(),
            "early_close": session.early_close,
            "slots": len(slots),
        },
        "freshness": {v: _freshness(ctx, summary, v, now_et) for v in VIEWS},
        "coverage": {v: _coverage(ctx, summary, v, day, due[v]) for v in VIEWS},
        "streaming": _streaming(ctx, day, now_et),
        "runs": _run_counts(ctx, day),
        "errors": _errors(ctx, day, meta),
        "selfcheck": _latest_selfcheck(ctx, day, meta),
        "logscan": _latest_logscan(ctx, day, meta),
        "qa_metrics": _latest_run_log(ctx, day, meta, "metrics", "metrics_{:%Y%m%d}.json"),
    }
    result["disk"] = _disk(ctx, result["coverage"])
    meta.rows = sum(c["written"] for c in result["coverage"].values())
    result["meta"] = meta.as_dict()
    return result


# --- what the calendar expected ---------------------------------------------------------------
def _expected_last(ctx: ServerContext, view: str, now: datetime) -> tuple[date, str]:
    """The newest (date, slot) the view should hold by `now`."""
    day = recent_sessions(1, now.date())[0]
    for _ in range(2):
        session = get_session(day)
        assert session is not None
        due = due_slots(ctx.cfg, session, now)[view]
        if due:
            return day, due[-1]
        day = previous_session(day).trade_date
    return day, ""


class _Summaries:
    """Each (view, date) of the ledger summed once, and kept until the ledger changes.

    day_summary is the one read whose cost grows with the universe (it sums the day's
    partitions: 10 ms for 5,000 underlyings). The sums are kept per worker thread with the
    kept connection's PRAGMA data_version and reused until another connection commits, so
    between the collector's writes a call costs the same for 5,000 underlyings as for 500.
    """

    _kept = threading.local()

    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx
        version = ctx.ledger.data_version()
        by_ledger: dict[str, tuple[int, dict[tuple[str, date], dict[str, Any]]]]
        by_ledger = self._kept.__dict__.setdefault("by_ledger", {})
        key = str(ctx.ledger.path)
        if version is None:
            self.done: dict[tuple[str, date], dict[str, Any]] = {}
            return
        kept = by_ledger.get(key)
        if kept is None or kept[0] != version:
            kept = (version, {})
            by_ledger[key] = kept
        self.done = kept[1]

    def __call__(self, view: str, day: date) -> dict[str, Any]:
        key = (view, day)
        if key not in self.done:
            self.done[key] = self.ctx.ledger.day_summary(view, day)
        return self.done[key]


def _freshness(ctx: ServerContext, summary: _Summaries, view: str, now: datetime) -> dict[str, Any]:
    exp_day, exp_slot = _expected_last(ctx, view, now)
    expected = {"date": exp_day.isoformat(), "slot": exp_slot or None}
    last_day = ctx.latest_date(view)
    if last_day is None:
        return {"status": "empty", "expected": expected, "last": None}
    last = summary(view, last_day)
    last_slot = last.get("slot") or ""
    behind = 0
    if last_day < exp_day:
        d = exp_day
        while d > last_day and behind < 30:
            d = previous_session(d).trade_date
            behind += 1
    fresh = (last_day, last_slot) >= (exp_day, exp_slot)
    return {
        "status": "fresh" if fresh else "stale",
        "expected": expected,
        "last": {
            "date": last_day.isoformat(),
            "slot": last_slot or None,
            "written_at": last.get("written_at"),
        },
        "sessions_behind": behind,
        "partitions_on_last_date": int(last.get("n") or 0),
    }


def _coverage(
    ctx: ServerContext, summary: _Summaries, view: str, day: date, due: list[str]
) -> dict[str, Any]:
    symbols = ctx.universe_for(view)
    r = summary(view, day)
    written = int(r.get("n") or 0)
    rows = int(r.get("rows") or 0)
    expected = len(symbols) * len(due)
    shards = by_shard(shards_of_day(ctx, day), symbols, due, _written(ctx, view, day))
    per_shard = {"shards": shards, "missing_shards": missing(shards)} if shards else {}
    return {
        **per_shard,
        "expected_partitions": expected,
        "written": written,
        "coverage": ratio(min(written, expected), expected) if expected else None,
        "slots_due": len(due),
        "rows": rows,
        "empty_partitions": int(r.get("empty") or 0),
        "delayed_ratio": ratio(r.get("delayed") or 0, rows),
        "greeks_fill": ratio(r.get("greeks"), rows),
        "quote_fill": ratio(r.get("quotes"), rows),
        "bytes": int(r.get("bytes") or 0),
    }


def _streaming(ctx: ServerContext, day: date, now: datetime) -> dict[str, Any] | None:
    """Streaming coverage of the day (shared.queries.shards.streaming_coverage); None when
    streaming is not set up. Due once streaming.start_time has passed."""
    symbols = ctx.cfg.streaming.underlyings
    if not symbols:
        return None
    due = now >= slot_datetime(day, ctx.cfg.streaming.start_time)
    rows = ctx.ledger.partitions_for_date(day, STREAMING_VIEW)
    return streaming_coverage(shards_of_day(ctx, day), symbols, due, rows)


def _written(ctx: ServerContext, view: str, day: date) -> set[tuple[str, str]]:
    """(underlying, slot) pairs the ledger holds for a day; read only when sharded."""
    return {(r["underlying"], r["slot"]) for r in ctx.ledger.partitions_for_date(day, view)}


# --- runs, errors and checks -------------------------------------------------------------------
def _run_counts(ctx: ServerContext, day: date) -> dict[str, Any]:
    return {
        "by_status": ctx.ledger.status_counts(day),
        "recent_problems": ctx.ledger.recent_problems(day, limit=5),
    }


def _errors(ctx: ServerContext, day: date, meta: Meta) -> dict[str, Any]:
    path = ctx.access.run_log("errors", f"errors_{day:%Y%m%d}.log")
    try:
        size = path.stat().st_size
    except OSError:
        return {"log": None, "bytes": 0, "lines": 0}
    meta.add_source(ctx.access.relative(path))
    cap = ctx.limits.max_log_bytes
    with path.open("rb") as fh:
        head = fh.read(cap)
    lines = head.count(b"\n")
    return {
        "log": path.name,
        "bytes": size,
        "lines": lines,
        "lines_counted_in_first_bytes": min(size, cap),
    }


def _summarise(doc: dict[str, Any] | None) -> dict[str, Any] | None:
    """Scalars and short lists as they are; nested objects by their keys (keeps replies small)."""
    if doc is None:
        return None
    out: dict[str, Any] = {}
    for key, value in list(doc.items())[:40]:
        if isinstance(value, dict):
            out[key] = value if len(str(value)) <= 2000 else {"keys": list(value)[:40]}
        elif isinstance(value, list):
            out[key] = value[:20]
        else:
            out[key] = value
    return out


def _latest_selfcheck(ctx: ServerContext, day: date, meta: Meta) -> dict[str, Any] | None:
    """selfcheck_YYYYMMDD.json of the last sessions; else the newest JSON report in the folder."""
    found = _latest_run_log(ctx, day, meta, "selfcheck", "selfcheck_{:%Y%m%d}.json")
    if found is not None:
        return found
    directory = ctx.access.run_log("selfcheck")
    entries, _ = ctx.access.list_dir(directory, ctx.limits.max_dir_entries)
    files = sorted(e.name for e in entries if e.is_file() and e.name.endswith(".json"))
    if not files:
        return None
    path = directory / files[-1]
    meta.add_source(ctx.access.relative(path))
    return {
        "date": None,
        "file": files[-1],
        "summary": _summarise(ctx.access.read_json(path, ctx.limits.max_log_bytes)),
    }


def _latest_logscan(ctx: ServerContext, day: date, meta: Meta) -> dict[str, Any] | None:
    return _latest_run_log(ctx, day, meta, "errors", "summary_{:%Y%m%d}.json")


def _latest_run_log(
    ctx: ServerContext, day: date, meta: Meta, folder: str, pattern: str
) -> dict[str, Any] | None:
    """The newest of a daily JSON run log among the last five sessions (logscan summary, QA metrics)."""
    for d in recent_sessions(5, day):
        path = ctx.access.run_log(folder, pattern.format(d))
        doc = ctx.access.read_json(path, ctx.limits.max_log_bytes)
        if doc is not None:
            meta.add_source(ctx.access.relative(path))
            return {"date": d.isoformat(), "file": path.name, "summary": _summarise(doc)}
    return None


def _disk(ctx: ServerContext, coverage: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Filesystem use (statvfs) and the bytes of the current session per view, from the ledger.

    Totals over the whole history would need a scan that grows with it; the filesystem
    figures are what running out of disk depends on. An object store has no such figures
    (it does not fill up like a disk): filesystem is null there.
    """
    data = ctx.layout.data
    fs = None
    if isinstance(data, Path):
        try:
            usage = shutil.disk_usage(data if data.exists() else data.parent)
            fs = {"total": usage.total, "used": usage.used, "free": usage.free}
        except OSError:
            pass
    return {"filesystem": fs, "session_bytes_by_view": {v: c["bytes"] for v, c in coverage.items()}}
