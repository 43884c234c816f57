"""When streaming runs: from streaming.start_time (09:35 ET) to the session close + 15 min.

Pure functions over the calendar, shared by scripts/ops/streaming_duration.py and
scripts/ops/streaming_loop.py. Early closes shorten the window (13:00 close -> 13:15).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from shared.calendar import get_session, next_session, slot_datetime, today_et

DEFAULT_CLOSE_PAD = timedelta(minutes=15)


@dataclass(frozen=True)
class Window:
    trade_date: date
    start: datetime
    end: datetime

    def seconds_left(self, now: datetime) -> int:
        return max(0, int((self.end - now).total_seconds()))


def window_for(day: date, start_time: str, pad: timedelta = DEFAULT_CLOSE_PAD) -> Window | None:
    session = get_session(day)
    if session is None:
        return None
    return Window(day, slot_datetime(day, start_time), session.close + pad)


def duration_now(now: datetime, pad: timedelta = DEFAULT_CLOSE_PAD) -> int | None:
    """Seconds from now to today's close + pad; None on a non-session day, 0 once past."""
    window = window_for(today_et(now), "00:00", pad)
    return None if window is None else window.seconds_left(now)


def next_window(now: datetime, start_time: str, pad: timedelta = DEFAULT_CLOSE_PAD) -> Window:
    """The window running now, else the next one to start (today or a later session)."""
    today = today_et(now)
    window = window_for(today, start_time, pad)
    if window is not None and now < window.end:
        return window
    nxt = next_session(today).trade_date
    found = window_for(nxt, start_time, pad)
    assert found is not None
    return found
