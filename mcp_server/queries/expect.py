"""What the calendar says should exist: recent sessions and the slots due by a given time."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from mcp_server.paths import today_et
from shared.calendar import ET, Session, get_session, parse_slot, previous_session, session_slots
from shared.config import AppConfig


def recent_sessions(count: int, today: date | None = None) -> list[date]:
    """The last `count` XNYS sessions up to and including today (ET), newest first."""
    day = today or today_et()
    out: list[date] = []
    if get_session(day) is not None:
        out.append(day)
    while len(out) < count:
        day = previous_session(day).trade_date
        out.append(day)
    return out


def slots_of(cfg: AppConfig, session: Session) -> list[str]:
    return session_slots(session, cfg.schedule.slot_interval_minutes, cfg.schedule.extra_slots)


def due_slots(cfg: AppConfig, session: Session, now: datetime) -> dict[str, list[str]]:
    """Per view, the partitions' slots of `session` that should be written by `now`.

    intraday: every slot whose time plus the grace has passed; close: the session's last
    slot once the close-snapshot time has passed; daily_clean: "" (one file) likewise.
    """
    slots = slots_of(cfg, session)
    grace = timedelta(seconds=cfg.acquisition.slot_grace_seconds)
    d = session.trade_date
    intraday = [s for s in slots if datetime.combine(d, parse_slot(s), ET) + grace <= now]
    close_at = datetime.combine(d, parse_slot(cfg.schedule.close_snapshot_time), ET)
    closed = now >= close_at + grace
    return {
        "intraday": intraday,
        "close": [slots[-1]] if closed else [],
        "daily_clean": [""] if closed else [],
    }


def now_et(now: datetime | None = None) -> datetime:
    return (now or datetime.now(ET)).astimezone(ET)
