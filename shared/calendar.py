"""The XNYS trading calendar: sessions, early closes and 30-minute slots, all in ET.

Sessions come from pandas-market-calendars. Without it, every weekday becomes a fixed
09:30-16:00 session with early_close=False, and a warning says so once. Wall-clock maths
always uses zoneinfo("America/New_York") explicitly, never the process time zone.
"""

from __future__ import annotations

import functools
import logging
import os
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

ET = ZoneInfo("America/New_York")
UTC = ZoneInfo("UTC")
REGULAR_OPEN = time(9, 30)
REGULAR_CLOSE = time(16, 0)
log = logging.getLogger(__name__)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# Trade dates the tools accept: far beyond any data, yet safe for date arithmetic
# (9999-12-31 + 1 day overflows).
TRADE_DATE_RANGE = (date(1990, 1, 1), date(2199, 12, 31))


@dataclass(frozen=True)
class Session:
    """One XNYS regular session. open/close are tz-aware ET datetimes."""

    trade_date: date
    open: datetime
    close: datetime
    early_close: bool
    source: str  # "pandas_market_calendars" or "fixed_fallback"

    def slots(self, interval_minutes: int = 30, extra: tuple[str, ...] = ()) -> list[str]:
        return session_slots(self, interval_minutes, extra)

    def last_slot(self, interval_minutes: int = 30) -> str:
        return self.slots(interval_minutes)[-1]


@functools.lru_cache(maxsize=1)
def _xnys() -> Any | None:
    try:
        import pandas_market_calendars as mcal
    except ImportError:
        log.warning(
            "pandas-market-calendars is not installed: using fixed 09:30-16:00 sessions, "
            "early_close=False"
        )
        return None
    return mcal.get_calendar("XNYS")


@functools.lru_cache(maxsize=64)
def _sessions_in_year(year: int) -> dict[date, Session]:
    cal = _xnys()
    if cal is None:
        return _fallback_year(year)
    sched = cal.schedule(start_date=f"{year}-01-01", end_date=f"{year}-12-31")
    out: dict[date, Session] = {}
    for label, row in sched.iterrows():
        d = label.date()
        open_et = row["market_open"].to_pydatetime().astimezone(ET)
        close_et = row["market_close"].to_pydatetime().astimezone(ET)
        early = close_et.time() < REGULAR_CLOSE
        out[d] = Session(d, open_et, close_et, early, "pandas_market_calendars")
    return out


def _fallback_year(year: int) -> dict[date, Session]:
    out: dict[date, Session] = {}
    d = date(year, 1, 1)
    while d.year == year:
        if d.weekday() < 5:
            out[d] = Session(
                d,
                datetime.combine(d, REGULAR_OPEN, ET),
                datetime.combine(d, REGULAR_CLOSE, ET),
                False,
                "fixed_fallback",
            )
        d += timedelta(days=1)
    return out


def get_session(day: date) -> Session | None:
    """The session on `day`, or None when XNYS is closed (weekend or holiday)."""
    return _sessions_in_year(day.year).get(day)


def is_session(day: date) -> bool:
    return get_session(day) is not None


def next_session(day: date) -> Session:
    """The first session strictly after `day`."""
    d = day + timedelta(days=1)
    for _ in range(30):
        s = get_session(d)
        if s is not None:
            return s
        d += timedelta(days=1)
    raise LookupError(f"no XNYS session within 30 days after {day}")


def previous_session(day: date) -> Session:
    """The last session strictly before `day`."""
    d = day - timedelta(days=1)
    for _ in range(30):
        s = get_session(d)
        if s is not None:
            return s
        d -= timedelta(days=1)
    raise LookupError(f"no XNYS session within 30 days before {day}")


NOW_ENV = "OPT_DATA_NOW"


def now_et(now: datetime | None = None) -> datetime:
    """The one clock every calendar question asks: `now` if given, else the wall clock in ET.

    OPT_DATA_NOW (an ISO datetime with an offset) pins it for a whole process: replaying a
    past day by hand, or a server started by a test on a fixed date. Event timestamps
    (ledger started_at, log lines) stay real UTC time; only "what day is it" is pinned.
    """
    if now is not None:
        return now.astimezone(ET)
    pinned = os.environ.get(NOW_ENV, "").strip()
    if pinned:
        try:
            at = datetime.fromisoformat(pinned)
        except ValueError:
            raise ValueError(f"{NOW_ENV} must be an ISO datetime, got {pinned!r}") from None
        if at.tzinfo is None:
            raise ValueError(f"{NOW_ENV} needs a UTC offset, got {pinned!r}")
        return at.astimezone(ET)
    return datetime.now(UTC).astimezone(ET)


def today_et(now: datetime | None = None) -> date:
    """The ET calendar date now (a trade date when it is a session)."""
    return now_et(now).date()


def latest_session(now: datetime | None = None) -> Session:
    """The most recent session that has closed by `now` (ET), for 'run the last full day'."""
    now_et_ = now_et(now)
    today = get_session(now_et_.date())
    if today is not None and now_et_ >= today.close:
        return today
    return previous_session(now_et_.date())


def sessions_between(start: date, end: date) -> list[Session]:
    """Sessions with start <= trade_date <= end, in order."""
    out: list[Session] = []
    for year in range(start.year, end.year + 1):
        out.extend(s for d, s in sorted(_sessions_in_year(year).items()) if start <= d <= end)
    return out


def parse_slot(label: str) -> time:
    """'09:30' or '0930' -> time(9, 30); raises ValueError otherwise."""
    text = label.strip().replace(":", "")
    if len(text) != 4 or not text.isdigit():
        raise ValueError(f"slot must be HH:MM, got {label!r}")
    hh, mm = int(text[:2]), int(text[2:])
    if hh > 23 or mm > 59:
        raise ValueError(f"slot must be HH:MM, got {label!r}")
    return time(hh, mm)


def slot_label(t: time) -> str:
    return f"{t.hour:02d}:{t.minute:02d}"


def slot_file_label(label: str) -> str:
    """'09:30' -> '0930' (the partition file name)."""
    return slot_label(parse_slot(label)).replace(":", "")


def session_slots(
    session: Session, interval_minutes: int = 30, extra: tuple[str, ...] = ()
) -> list[str]:
    """Slot labels from the open to the close inclusive; the last slot is the real close.

    Extra slots (e.g. 15:45) are added when they fall inside the session.
    """
    step = timedelta(minutes=interval_minutes)
    labels: list[str] = []
    t = session.open
    while t <= session.close:
        labels.append(slot_label(t.timetz()))
        t += step
    close_label = slot_label(session.close.timetz())
    if labels[-1] != close_label:
        labels.append(close_label)
    for label in extra:
        at = datetime.combine(session.trade_date, parse_slot(label), ET)
        if session.open <= at <= session.close and slot_label(at.timetz()) not in labels:
            labels.append(slot_label(at.timetz()))
    return sorted(labels)


def slot_datetime(trade_date: date, label: str) -> datetime:
    """The ET wall-clock instant of a slot on a trade date (DST handled by zoneinfo)."""
    return datetime.combine(trade_date, parse_slot(label), ET)


def validate_slot(
    session: Session, label: str, interval_minutes: int = 30, extra: tuple[str, ...] = ()
) -> str:
    """Normalise a slot label and check it is one of the session's slots, else ValueError."""
    normal = slot_label(parse_slot(label))
    allowed = session_slots(session, interval_minutes, extra)
    if normal not in allowed:
        raise ValueError(
            f"slot {normal} is outside the {session.trade_date} session "
            f"({allowed[0]}-{allowed[-1]} ET, every {interval_minutes} min)"
        )
    return normal


# Relative dates an operator or an agent can say instead of doing calendar maths. One
# parser for the CLI's --date and every MCP date argument; meanings are XNYS sessions.
RELATIVE_DATES = "'today', 'yesterday', 'last_session', '-N' (N sessions back) or a weekday name"
_WEEKDAYS = {
    name: i
    for i, names in enumerate(
        (("monday", "mon"), ("tuesday", "tue", "tues"), ("wednesday", "wed"),
         ("thursday", "thu", "thurs"), ("friday", "fri"), ("saturday", "sat"), ("sunday", "sun"))
    )
    for name in names
}  # fmt: skip
_SESSIONS_BACK = re.compile(r"-(\d{1,4})")
MAX_SESSIONS_BACK = 2600  # about ten years of sessions


def parse_trade_date(text: str, now: datetime | None = None) -> date:
    """A trade date from 'YYYY-MM-DD' or a relative word, in ET; raises ValueError otherwise.

    - today: the ET calendar date now (a session or not);
    - yesterday: the last session before today (on a Monday, the Friday before);
    - last_session: the most recent session that has closed by now (see latest_session);
    - -N: the session N sessions before today (-1 is yesterday, -0 today);
    - monday..sunday (or mon..sun): the latest session on that weekday, today included.
    """
    word = text.strip().lower()
    today = today_et(now)
    if word == "today":
        return today
    if word == "yesterday":
        return previous_session(today).trade_date
    if word in ("last_session", "last-session"):
        return latest_session(now).trade_date
    back = _SESSIONS_BACK.fullmatch(word)
    if back:
        return sessions_back(today, int(back.group(1)))
    if word in _WEEKDAYS:
        return latest_weekday_session(today, _WEEKDAYS[word])
    # Python 3.11's fromisoformat also takes '20261120' and week dates like '2026-W47-5';
    # the documented form is YYYY-MM-DD only.
    try:
        if not _ISO_DATE.fullmatch(word):
            raise ValueError(text)
        day = date.fromisoformat(word)
    except ValueError:
        shown = text if len(text) <= 40 else text[:40] + "..."
        raise ValueError(f"date must be YYYY-MM-DD or {RELATIVE_DATES}; got {shown!r}") from None
    low, high = TRADE_DATE_RANGE
    if not low <= day <= high:
        # the calendar arithmetic around a date (next/previous session) must stay in range
        raise ValueError(f"date {day} is outside the supported range {low} .. {high}")
    return day


def sessions_back(today: date, count: int) -> date:
    """The session `count` sessions before `today` (0: today itself, session or not)."""
    if count > MAX_SESSIONS_BACK:
        raise ValueError(f"-N goes back at most {MAX_SESSIONS_BACK} sessions, got -{count}")
    day = today
    for _ in range(count):
        day = previous_session(day).trade_date
    return day


def latest_weekday_session(today: date, weekday: int) -> date:
    """The latest session on `weekday` (0 = Monday) on or before `today`."""
    if weekday >= 5:
        raise ValueError("XNYS has no sessions on Saturdays or Sundays")
    day = today - timedelta(days=(today.weekday() - weekday) % 7)
    for _ in range(10):  # a weekday is never a holiday ten weeks running
        if get_session(day) is not None:
            return day
        day -= timedelta(days=7)
    raise LookupError(f"no session on that weekday in the ten weeks before {today}")


def closed_reason(day: date) -> str | None:
    """Why XNYS has no session on `day` ('a Saturday', 'an XNYS holiday'), or None if it has."""
    if get_session(day) is not None:
        return None
    if day.weekday() >= 5:
        return f"a {day:%A}"
    return "an XNYS holiday"


def require_session(day: date) -> Session:
    """The session on `day`, or ValueError naming why there is none."""
    s = get_session(day)
    if s is None:
        why = "a weekend" if day.weekday() >= 5 else "an XNYS holiday"
        raise ValueError(f"{day} is not an XNYS session ({why})")
    return s
