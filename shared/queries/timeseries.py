"""get_vol_timeseries: one underlying's volatility and flow metrics over a date range.

One row per stored snapshot (per date, or per date and slot): spot, ATM IV at constant
maturities, the 25-delta risk reversal and butterfly, put/call volume and OI ratios and
total GEX. The methods are shared.analytics' (docs/mcp.md, "Methods of the time-series
and surface tools"). Values the stored strikes do not reach are null, with a note.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import polars as pl

from shared.analytics.snapshot import SKEW_TENOR, TENORS, snapshot_metrics
from shared.calendar import previous_session
from shared.queries import nearest
from shared.queries.context import ServerContext
from shared.queries.frames import one_row_per_contract, repeated_rows_note
from shared.queries.limits import Cap, Meta, clamp
from shared.queries.paths import QueryError
from shared.queries.results import Page, table
from shared.queries.snapshots import ReadStats, iter_snapshots, session_range

SESSIONS = Cap("sessions", 20, 260)
ROWS = Cap("limit", 500, 5000)
MAX_TENOR_DAYS = 730


def check_tenors(tenors: list[int] | None, default: tuple[int, ...]) -> tuple[int, ...]:
    if not tenors:
        return default
    out = tuple(sorted(set(int(t) for t in tenors)))
    if len(out) > 12 or out[0] < 1 or out[-1] > MAX_TENOR_DAYS:
        raise QueryError(f"tenors must be 1-12 distinct day counts in 1..{MAX_TENOR_DAYS}")
    return out


def vol_timeseries(
    ctx: ServerContext,
    symbol: str,
    from_date: str | None = None,
    to_date: str | None = None,
    view: str = "daily_clean",
    each_slot: bool = False,
    tenors: list[int] | None = None,
    skew_tenor: int = SKEW_TENOR,
    sessions: int | None = None,
    limit: int | None = None,
    page: Page | None = None,
    with_full_series: bool = False,
) -> dict[str, Any]:
    """The series as a table (paged by the reply budget); with_full_series adds every
    row's columns under `_full_series` for a chart (the tool layer removes it)."""
    meta = Meta()
    n_rows = meta.apply(clamp(ROWS, limit))
    acc = ctx.access
    view = acc.view(view)
    sym = acc.symbol(symbol)
    if each_slot and view == "daily_clean":
        raise QueryError(
            "each_slot needs a raw view ('intraday' or 'close'): daily_clean has one row per date"
        )
    wanted = check_tenors(tenors, TENORS)
    if not 1 <= skew_tenor <= MAX_TENOR_DAYS:
        raise QueryError(f"skew_tenor must be 1..{MAX_TENOR_DAYS} days, got {skew_tenor}")
    end = acc.trade_date(to_date) or ctx.latest_date(view, sym)
    if end is None:
        raise nearest.missing_symbol(ctx, view, sym)
    meta.resolved["to_date"] = end.isoformat()
    start = acc.trade_date(from_date)
    # `sessions` counts back from to_date only when from_date is omitted; a range asked
    # for is read whole, up to the cap
    asked = SESSIONS.maximum if start is not None else sessions
    n = meta.apply(clamp(SESSIONS, asked), "sessions")
    if start is None:
        start = end
        for _ in range(n - 1):
            start = previous_session(start).trade_date
    days, cut = session_range(start, end, n)
    meta.resolved["from_date"] = (days[0] if days else start).isoformat()
    if cut:
        meta.truncated = True
        meta.notes.append(f"more than {n} sessions asked: kept the latest, from {days[0]}")
    stats = ReadStats()
    columns: dict[str, list[Any]] = {"date": [], "slot": []}
    note_counts: Counter[str] = Counter()
    repeated = 0
    for day, slot, frame in iter_snapshots(
        ctx, sym, view, days, each_slot, stats, ctx.limits.max_files_read
    ):
        frame, dropped = one_row_per_contract(frame)
        repeated += dropped
        out = snapshot_metrics(frame, day, wanted, skew_tenor)
        columns["date"].append(day.isoformat())
        columns["slot"].append(slot)
        for key, value in out["row"].items():
            columns.setdefault(key, []).append(round6(value))
        note_counts.update(out["notes"])
    rows = len(columns["date"])
    meta.add_source(f"{view} {sym} {days[0] if days else start}..{end} ({stats.files} files)")
    if stats.stopped_at_file_cap:
        meta.truncated = True
        meta.notes.append(
            f"stopped after {ctx.limits.max_files_read} files: ask for fewer sessions or no each_slot"
        )
    if stats.missing_dates:
        meta.notes.append(
            f"{len(stats.missing_dates)} session(s) without a {view} file: "
            + ", ".join(stats.missing_dates[:5])
            + (" ..." if len(stats.missing_dates) > 5 else "")
        )
    if repeated:
        meta.notes.append(repeated_rows_note(repeated))
    if stats.unreadable:
        meta.notes.append(f"unreadable, skipped: {', '.join(stats.unreadable[:3])}")
    meta.notes.extend(f"{note} (x{k})" if k > 1 else note for note, k in note_counts.most_common(8))
    if rows == 0:
        raise QueryError(
            f"no {view} snapshot of {sym} between {days[0] if days else start} and {end}"
        )
    frame = pl.DataFrame(columns, strict=False)
    out = {
        "symbol": sym,
        "view": view,
        "from_date": columns["date"][0],
        "to_date": columns["date"][-1],
        "tenors": list(wanted),
        "skew_tenor": skew_tenor,
        "series": table(frame, meta, n_rows, page),
        "meta": meta.as_dict(),
    }
    if with_full_series:
        out["_full_series"] = columns
    return out


def round6(value: Any) -> Any:
    return round(value, 6) if isinstance(value, float) else value
