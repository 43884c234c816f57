"""What the calendar says should exist by a given time: the one due-slot rule.

The collector's checks (qa, selfcheck) and the read side (health, partition issues) ask
the same question - "which partitions of this session should be written by now?" - and
must give the same answer, so both call this module. A slot is due once its time plus
`acquisition.slot_grace_seconds` has passed: the grace is what the scheduler allows a
slot to start late, so a slot inside its grace is not yet missing.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from shared.calendar import (
    Session,
    get_session,
    next_session,
    now_et,
    previous_session,
    session_slots,
    slot_datetime,
    today_et,
)
from shared.config import AppConfig
from shared.tasks import Task


def slots_of(cfg: AppConfig, session: Session) -> list[str]:
    """Every slot label of the session under the configured interval and extra slots."""
    return session_slots(session, cfg.schedule.slot_interval_minutes, cfg.schedule.extra_slots)


def grace(cfg: AppConfig) -> timedelta:
    return timedelta(seconds=cfg.acquisition.slot_grace_seconds)


def intraday_due(cfg: AppConfig, session: Session, now: datetime) -> list[str]:
    """Intraday slots whose time plus the grace has passed by `now`."""
    g = grace(cfg)
    return [s for s in slots_of(cfg, session) if slot_datetime(session.trade_date, s) + g <= now]


def close_due(cfg: AppConfig, session: Session, now: datetime) -> bool:
    """The close snapshot (and so the rollup) is due once its time plus the grace has passed."""
    return now >= slot_datetime(session.trade_date, cfg.schedule.close_snapshot_time) + grace(cfg)


def due_slots(cfg: AppConfig, session: Session, now: datetime) -> dict[str, list[str]]:
    """Per view, the partitions' slots of `session` that should be written by `now`.

    intraday: every slot whose time plus the grace has passed; close: the session's last
    slot once the close-snapshot time plus the grace has passed; daily_clean: "" (one file)
    likewise.
    """
    closed = close_due(cfg, session, now)
    return {
        "intraday": intraday_due(cfg, session, now),
        "close": [slots_of(cfg, session)[-1]] if closed else [],
        "daily_clean": [""] if closed else [],
    }


def enrichment_at(cfg: AppConfig, trade_date: date) -> datetime:
    """When open interest of `trade_date` can be read: the next session's enrichment time
    (IB's tick 101 carries the previous session's figure the next morning)."""
    nxt = next_session(trade_date)
    return slot_datetime(nxt.trade_date, cfg.schedule.enrichment_time)


def enrichment_due(cfg: AppConfig, trade_date: date, now: datetime) -> bool:
    """Open interest of `trade_date` is due at the next session's enrichment time."""
    return now >= enrichment_at(cfg, trade_date)


def collectable_from(
    cfg: AppConfig, task: str, session: Session, slot: str | None
) -> datetime | None:
    """The earliest instant `task`'s data for `session` exists, or None when the task has no
    such instant. A snapshot row is labelled with its slot's time, the close view and the
    daily_clean row with the session's close, open interest with the next session's morning:
    made before that, the rows would carry a moment that has not come (today's prices filed
    as a later slot, a future date, a day's roll-up from its morning), and a restarted
    scheduler would take the task as done for the day and skip it."""
    if task == Task.SNAPSHOT and slot is not None:
        return slot_datetime(session.trade_date, slot)
    if task in (Task.CLOSE_SNAPSHOT, Task.ROLLUP):  # the day's row needs the day to be over
        return session.close
    if task == Task.ENRICHMENT:
        return enrichment_at(cfg, session.trade_date)
    return None


def too_early(
    cfg: AppConfig, task: str, session: Session, now: datetime, slot: str | None = None
) -> str | None:
    """Why `task` cannot collect `session` (and `slot`) yet at `now`, or None when it can."""
    start = collectable_from(cfg, task, session, slot)
    if start is None or now >= start:
        return None
    what = f"{task} {session.trade_date}" + (f" {slot}" if task == Task.SNAPSHOT else "")
    return (
        f"{what} cannot run before {start:%Y-%m-%d %H:%M} ET (now {now:%Y-%m-%d %H:%M} ET): "
        "data collected now would be labelled with a time that has not come"
    )


def too_early_on(
    cfg: AppConfig, task: str, trade_date: date, slot: str | None = None
) -> str | None:
    """too_early for a date, now (the one clock); None on a day without a session, which
    the job itself refuses naming the day."""
    session = get_session(trade_date)
    return too_early(cfg, task, session, now_et(), slot) if session else None


def expected_slots(view: str, slots: list[str]) -> list[str]:
    """Slots a view holds per session: every slot for intraday, the close slot otherwise."""
    if view == "intraday":
        return slots
    if view == "close":
        return [slots[-1]]
    return [""]


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
