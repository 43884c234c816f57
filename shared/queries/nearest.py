"""Errors for what is not stored that name the nearest things that are.

Why: "no daily_clean data for QQQ" or "no partition" leaves an agent guessing; these
errors say which symbols, dates or slots exist and whether a date was a holiday, a
weekend or an early close, so the next call can succeed.
"""

from __future__ import annotations

import difflib
from datetime import date

from shared.calendar import closed_reason, get_session, now_et, slot_label
from shared.queries.context import ServerContext
from shared.queries.paths import QueryError

MAX_NAMED = 8  # symbols or slots named in one error


def missing_symbol(ctx: ServerContext, view: str, symbol: str) -> QueryError:
    stored = sorted({r["underlying"] for r in ctx.ledger.underlying_ranges(view)})
    if not stored:
        return QueryError(f"no {view} data is stored yet (for any underlying)")
    close = difflib.get_close_matches(symbol, stored, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    shown = ", ".join(stored[:MAX_NAMED]) + (", ..." if len(stored) > MAX_NAMED else "")
    return QueryError(
        f"no {view} data for {symbol}{hint} Stored: {shown} ({len(stored)} underlyings; "
        "list_underlyings lists them)"
    )


def describe_day(day: date) -> str:
    """'2026-11-26 (a Thursday, an XNYS holiday)' or '2026-11-27 (an early close at 13:00)'."""
    why = closed_reason(day)
    if why is not None and day.weekday() >= 5:
        return f"{day} ({why}: no session)"
    if why is not None:
        return f"{day} (a {day:%A}, {why}: no session)"
    session = get_session(day)
    if session is not None and session.early_close:
        return f"{day} (an early close at {slot_label(session.close.timetz())} ET)"
    return str(day)


def missing_date(ctx: ServerContext, view: str, symbol: str, day: date) -> QueryError:
    before, after = ctx.ledger.nearest_dates(view, symbol, day)
    near = [d.isoformat() for d in (before, after) if d is not None]
    if not near:
        return missing_symbol(ctx, view, symbol)
    return QueryError(
        f"no {view} partition for {symbol} on {describe_day(day)}; nearest dates with data: "
        f"{' and '.join(near)}{_still_open(ctx, view, day)}"
    )


def _still_open(ctx: ServerContext, view: str, day: date) -> str:
    """'; the session is open until 16:00 ET: ...' when a day's close or daily_clean is
    asked for before that day's close, so the agent knows it is not missing, only not yet."""
    session = get_session(day)
    if view not in ("close", "daily_clean") or session is None or now_et() >= session.close:
        return ""
    slots = " (the intraday view holds its slots so far)" if ctx.access.allow_raw else ""
    return (
        f"; the session is open until {slot_label(session.close.timetz())} ET: {view} is written "
        f"after the close{slots}"
    )


def missing_slot(ctx: ServerContext, view: str, symbol: str, day: date, slot: str) -> QueryError:
    slots = ctx.ledger.slots_on(view, day, symbol)
    if not slots:
        return missing_date(ctx, view, symbol, day)
    if len(slots) > MAX_NAMED:
        shown = f"{', '.join(slots[:3])}, ..., {', '.join(slots[-3:])} ({len(slots)} slots)"
    else:
        shown = ", ".join(slots)
    return QueryError(
        f"no {view} slot {slot} for {symbol} on {describe_day(day)}; slots present: {shown}"
    )
