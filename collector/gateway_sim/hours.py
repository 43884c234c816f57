"""contractDetails' tradingHours and liquidHours, in the contract's own time zone.

IB's format (since TWS 970): `YYYYMMDD:HHMM-YYYYMMDD:HHMM` per open span and
`YYYYMMDD:CLOSED` per closed day, joined by `;`, for about a week from today.
US stocks trade 04:00-20:00 ET with liquid (regular) hours 09:30-16:00; options and
indices trade in the regular session only; on a half day everything ends early. EUR.USD
(IDEALPRO) trades from Sunday 17:15 to Friday 17:00 ET with a daily 17:00-17:15 break.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from shared.calendar import ET, get_session

DAYS = 7
EXTENDED_OPEN, EXTENDED_CLOSE = time(4, 0), time(20, 0)
HALF_DAY_EXTENDED_CLOSE = time(17, 0)
FX_BREAK_START, FX_BREAK_END = time(17, 0), time(17, 15)


def zone_for(exchange: str) -> str:
    """CBOE products (SPX, VIX and their options) are described in Chicago time."""
    return "US/Central" if exchange == "CBOE" else "US/Eastern"


def _span(start: datetime, end: datetime, tz: ZoneInfo) -> str:
    a, b = start.astimezone(tz), end.astimezone(tz)
    return f"{a:%Y%m%d:%H%M}-{b:%Y%m%d:%H%M}"


def session_hours(on: date, zone: str, extended: bool) -> tuple[str, str]:
    """(tradingHours, liquidHours) for an XNYS-listed contract from `on` for a week."""
    tz = ZoneInfo(zone)
    trading, liquid = [], []
    for offset in range(DAYS):
        day = on + timedelta(days=offset)
        session = get_session(day)
        if session is None:
            trading.append(f"{day:%Y%m%d}:CLOSED")
            liquid.append(f"{day:%Y%m%d}:CLOSED")
            continue
        liquid.append(_span(session.open, session.close, tz))
        if extended:
            early = session.close.timetz().replace(tzinfo=None) < time(16, 0)
            close = HALF_DAY_EXTENDED_CLOSE if early else EXTENDED_CLOSE
            start = datetime.combine(day, EXTENDED_OPEN, ET)
            trading.append(_span(start, datetime.combine(day, close, ET), tz))
        else:
            trading.append(_span(session.open, session.close, tz))
    return ";".join(trading), ";".join(liquid)


def fx_is_open(at: datetime) -> bool:
    """IDEALPRO: Sunday 17:15 ET to Friday 17:00 ET, closed 17:00-17:15 every day."""
    et = at.astimezone(ET)
    wd, t = et.weekday(), et.time()
    if FX_BREAK_START <= t < FX_BREAK_END:
        return False
    if wd == 5:  # Saturday
        return False
    if wd == 6:  # Sunday: from the evening open
        return t >= FX_BREAK_END
    return not (wd == 4 and t >= FX_BREAK_START)  # Friday evening: closed


def fx_hours(on: date) -> str:
    """tradingHours (= liquidHours) of EUR.USD for a week from `on`, in ET."""
    spans = []
    for offset in range(DAYS):
        day = on + timedelta(days=offset)
        if day.weekday() in (4, 5):  # the Friday 17:00 close ends the week; Saturday shut
            spans.append(f"{day:%Y%m%d}:CLOSED")
            continue
        start = datetime.combine(day, FX_BREAK_END, ET)
        end = datetime.combine(day + timedelta(days=1), FX_BREAK_START, ET)
        spans.append(_span(start, end, ZoneInfo("US/Eastern")))
    return ";".join(spans)
