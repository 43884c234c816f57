"""The gateway's daily life: the nightly restart and the weekly re-login, as outages.

IB Gateway restarts once a day at a time the user sets (IBC's AutoRestartTime, or the
gateway's own "Auto restart" setting) and needs a full login, with two-factor
authentication, once a week after its Sunday restart. Users run it under IBC or behind
ib_async's Watchdog for that reason: every client is dropped at the restart and the
port refuses connections until the gateway is back (a 1-3 minute gap is reported in
ib_insync #469; a Sunday restart that waited for a login left a LEAN deployment
disconnected for days, Lean.Brokerages.InteractiveBrokers #246).

Pure functions of the simulated clock; server.py drops the clients and closes the port.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from collector.gateway_sim.config import FaultConfig

SUNDAY = 6


@dataclass(frozen=True)
class Outage:
    start: datetime
    end: datetime
    reason: str  # "nightly restart" or "weekly re-login"


def outage_crossed(faults: FaultConfig, before: datetime, now: datetime) -> Outage | None:
    """The outage whose start lies in (before, now], if the clock crossed one."""
    at = faults.nightly_restart
    if at is None or now <= before:
        return None
    day = before.date()
    while day <= now.date():
        start = datetime.combine(day, at, now.tzinfo)
        if before < start <= now:
            return outage_at(faults, start)
        day += timedelta(days=1)
    return None


def outage_at(faults: FaultConfig, start: datetime) -> Outage:
    weekly = start.weekday() == SUNDAY and faults.sunday_relogin_hours > 0
    if weekly:
        return Outage(
            start, start + timedelta(hours=faults.sunday_relogin_hours), "weekly re-login"
        )
    return Outage(start, start + timedelta(minutes=faults.restart_minutes), "nightly restart")
