"""Historical bars from the same deterministic paths the live market uses.

Supports bar sizes from 1 min to 1 month, durations in S/D/W/M/Y, TRADES / MIDPOINT /
BID / ASK / implied and historical volatility, formatDate 1 (ET text) and 2 (epoch).
Only regular trading hours are modelled, so useRTH=0 returns the same bars as useRTH=1.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from collector.gateway_sim.contracts import Instrument
from collector.gateway_sim.market import MarketTime, UnderlyingModel
from collector.gateway_sim.profiles import Profile
from collector.gateway_sim.quotes import QuoteEngine, expiry_instant
from shared.calendar import ET, UTC, Session, sessions_between

MAX_BARS = 10_000
BAR_UNITS = {
    "sec": 1,
    "secs": 1,
    "min": 60,
    "mins": 60,
    "hour": 3600,
    "hours": 3600,
    "day": 86400,
    "days": 86400,
    "week": 7 * 86400,
    "weeks": 7 * 86400,
    "month": 30 * 86400,
    "months": 30 * 86400,
}
DURATION_DAYS = {"D": 1, "W": 7, "M": 30, "Y": 365}
PRICE_SHOWS = {"TRADES", "MIDPOINT", "BID", "ASK", "BID_ASK", "ADJUSTED_LAST"}
VOL_SHOWS = {"OPTION_IMPLIED_VOLATILITY", "HISTORICAL_VOLATILITY"}


class HistoryError(ValueError):
    """A request IB would reject (error 162/321 text)."""


@dataclass(frozen=True)
class HistRequest:
    end: datetime
    bar_seconds: int
    duration: str
    what: str
    format_date: int


def parse_bar_size(text: str) -> int:
    m = re.fullmatch(r"\s*(\d+)\s+([a-z]+)\s*", text.lower())
    if not m or m.group(2) not in BAR_UNITS:
        raise HistoryError(f"Invalid bar size: {text!r}")
    return int(m.group(1)) * BAR_UNITS[m.group(2)]


def parse_end(text: str, now: datetime) -> datetime:
    """'' = now; 'YYYYMMDD HH:MM:SS[ TZ]' or 'YYYYMMDD-HH:MM:SS' (UTC)."""
    raw = text.strip()
    if not raw:
        return now
    if re.fullmatch(r"\d{8}-\d{2}:\d{2}:\d{2}", raw):
        return datetime.strptime(raw, "%Y%m%d-%H:%M:%S").replace(tzinfo=UTC)
    stamp, _, zone = raw[:17], None, raw[17:].strip()
    try:
        naive = datetime.strptime(stamp, "%Y%m%d %H:%M:%S")
    except ValueError:
        raise HistoryError(f"Invalid end date/time: {text!r}") from None
    if zone in ("", "US/Eastern", "America/New_York", "EST", "EDT"):
        return naive.replace(tzinfo=ET)
    if zone in ("UTC", "GMT"):
        return naive.replace(tzinfo=UTC)
    from zoneinfo import ZoneInfo

    try:
        return naive.replace(tzinfo=ZoneInfo(zone))
    except Exception:
        raise HistoryError(f"Invalid time zone in end date/time: {text!r}") from None


def sessions_in(duration: str, end: datetime) -> list[Session]:
    """Sessions a duration ending at `end` covers ('5 D' = the last 5 sessions)."""
    m = re.fullmatch(r"\s*(\d+)\s*([SDWMY])\s*", duration.upper())
    if not m:
        raise HistoryError(f"Invalid duration: {duration!r}")
    n, unit = int(m.group(1)), m.group(2)
    end_et = end.astimezone(ET)
    if unit == "S":
        start = end_et - timedelta(seconds=n)
        return [s for s in sessions_between(start.date(), end_et.date()) if s.open < end_et]
    if unit == "D":
        found = [
            s
            for s in sessions_between(end_et.date() - timedelta(days=3 * n + 10), end_et.date())
            if s.open < end_et
        ]
        return found[-n:]
    start_day = end_et.date() - timedelta(days=n * DURATION_DAYS[unit])
    found = sessions_between(start_day + timedelta(days=1), end_et.date())
    return [s for s in found if s.open < end_et]


class BarBuilder:
    def __init__(self, model: UnderlyingModel, engine: QuoteEngine) -> None:
        self.model = model
        self.engine = engine

    def bars(self, inst: Instrument, profile: Profile, req: HistRequest) -> list[list]:
        if req.what not in PRICE_SHOWS | VOL_SHOWS:
            raise HistoryError(f"Invalid whatToShow: {req.what}")
        if req.what == "TRADES" and inst.sec_type == "IND" and req.bar_seconds < 60:
            raise HistoryError("No data of type TRADES for index bars below 1 min")
        out: list[list] = []
        seconds = re.fullmatch(r"\s*(\d+)\s*S\s*", req.duration.upper())
        not_before = req.end - timedelta(seconds=int(seconds.group(1))) if seconds else None
        for session in sessions_in(req.duration, req.end):
            if req.bar_seconds >= 86400:
                spans = [(session.open, session.close, True)]
            else:
                spans = self._intraday_spans(session, req.bar_seconds)
            for start, stop, daily in spans:
                if start >= req.end:
                    break
                if not_before is not None and stop <= not_before:
                    continue
                bar = self._bar(inst, profile, session, start, min(stop, req.end), req, daily)
                if bar is not None:
                    out.append(bar)
                if len(out) > MAX_BARS:
                    raise HistoryError("Historical data request too large (more than 10000 bars)")
        return out

    @staticmethod
    def _intraday_spans(session: Session, seconds: int) -> list[tuple[datetime, datetime, bool]]:
        """Bars on clock boundaries (IB: hourly bars 09:30, 10:00, 11:00 ...): the first
        bar runs from the open to the next multiple of the bar size since midnight."""
        midnight = session.open.replace(hour=0, minute=0, second=0, microsecond=0)
        since = (session.open - midnight).total_seconds()
        first = midnight + timedelta(seconds=(since // seconds + 1) * seconds)
        spans, t, step = [], session.open, timedelta(seconds=seconds)
        nxt = min(first, session.close)
        while t < session.close:
            spans.append((t, nxt, False))
            t, nxt = nxt, min(nxt + step, session.close)
        return spans

    def _bar(
        self,
        inst: Instrument,
        profile: Profile,
        session: Session,
        start: datetime,
        stop: datetime,
        req: HistRequest,
        daily: bool,
    ) -> list | None:
        path = self.model.minute_path(profile, session.trade_date)
        m0 = (start - session.open).total_seconds() / 60.0
        m1 = min((stop - session.open).total_seconds() / 60.0, len(path) - 1.0)
        marks = [m0, *range(int(m0) + 1, math.ceil(m1)), m1]  # the ends and whole minutes
        seg = [_interpolate(path, m) for m in marks]
        if inst.sec_type == "OPT":
            if expiry_instant(inst) <= start:
                return None
            seg = [self._option_price(inst, profile, session, start, s) for s in seg]
        if req.what in VOL_SHOWS:
            level = profile.vol * (0.9 if req.what == "HISTORICAL_VOLATILITY" else 1.0)
            seg = [round(level * (1 + 0.2 * (s / seg[0] - 1)), 6) for s in seg]
        o, h, low, c = seg[0], max(seg), min(seg), seg[-1]
        o, h, low, c = (round(v, 4) for v in (o, h, low, c))
        trades = req.what == "TRADES" and inst.sec_type != "IND"
        volume: float = -1
        if trades:
            share = (m1 - m0) / max(len(path) - 1, 1)
            volume = int(self.model.daily_shares(profile, session.trade_date) * share / 100)
            if inst.sec_type == "OPT":
                volume = max(int(volume / 2000), 1)
        wap = round((h + low + c) / 3, 4) if trades else -1.0
        count = max(int(volume) // 20, 1) if trades else -1
        return [self._label(start, req.format_date, daily), o, h, low, c, volume, wap, count]

    def _option_price(
        self, inst: Instrument, profile: Profile, session: Session, start: datetime, spot: float
    ) -> float:
        when = MarketTime(session.trade_date, start, True, session)
        g, _ = self.engine.greeks(inst, profile, when, spot=spot)
        return g.price

    @staticmethod
    def _label(start: datetime, format_date: int, daily: bool) -> str:
        if daily:
            return start.astimezone(ET).strftime("%Y%m%d")
        if format_date == 2:
            return str(int(start.timestamp()))
        return start.astimezone(ET).strftime("%Y%m%d %H:%M:%S") + " US/Eastern"


def edge_label(when: datetime) -> str:
    return when.astimezone(ET).strftime("%Y%m%d %H:%M:%S")


def _interpolate(path: np.ndarray, minute: float) -> float:
    """The price at a fractional minute of the session (linear between minutes)."""
    i = min(max(int(minute), 0), len(path) - 1)
    if i >= len(path) - 1:
        return float(path[-1])
    w = minute - i
    return float(path[i]) * (1 - w) + float(path[i + 1]) * w
