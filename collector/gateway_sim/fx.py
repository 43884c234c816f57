"""EUR.USD on IDEALPRO: enough of one currency pair for ib_async's Watchdog probe.

The Watchdog (ib_async ibcontroller.py) probes an idle connection with
`reqHistoricalData(Forex("EURUSD"), "", "30 S", "5 secs", "MIDPOINT", False)` and
restarts the gateway when no bars come back. The simulator answers that: contract
details for the pair and MIDPOINT bars along a deterministic path while IDEALPRO trades.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta

from collector.gateway_sim.history import HistoryError
from collector.gateway_sim.hours import fx_is_open
from collector.gateway_sim.profiles import stable_normal
from shared.calendar import ET

BASE = 1.08
MAX_SECONDS = 7 * 86400


def mid(seed: int, at: datetime) -> float:
    """A smooth deterministic mid price: a slow daily drift plus a minute-level wiggle."""
    minute = int(at.timestamp() // 60)
    day = at.astimezone(ET).date()
    drift = 0.01 * stable_normal(seed, "EURUSD", day)
    wiggle = 0.0004 * math.sin(minute / 17.0) + 0.0002 * stable_normal(seed, "EURUSD", minute)
    return round(BASE * math.exp(drift) + wiggle, 5)


def bars(
    seed: int, end: datetime, duration: str, bar_seconds: int, what: str, format_date: int
) -> list[list]:
    """MIDPOINT (or BID/ASK) bars ending at `end`; none while IDEALPRO is shut."""
    if what not in ("MIDPOINT", "BID", "ASK", "BID_ASK"):
        raise HistoryError(f"No data of type {what} for a currency pair")
    m = re.fullmatch(r"\s*(\d+)\s*([SD])\s*", duration.upper())
    if not m:
        raise HistoryError(f"Invalid duration for a currency pair: {duration!r}")
    seconds = int(m.group(1)) * (86400 if m.group(2) == "D" else 1)
    if seconds > MAX_SECONDS:
        raise HistoryError("Historical data request too large")
    start_epoch = int(end.timestamp()) - seconds
    first = start_epoch - start_epoch % bar_seconds
    out: list[list] = []
    t = first
    while t < end.timestamp():
        at = datetime.fromtimestamp(t, ET)
        if fx_is_open(at):
            o = mid(seed, at)
            c = mid(seed, at + timedelta(seconds=bar_seconds))
            h, low = round(max(o, c) + 0.00005, 5), round(min(o, c) - 0.00005, 5)
            label = str(t) if format_date == 2 else f"{at:%Y%m%d %H:%M:%S} US/Eastern"
            out.append([label, o, h, low, c, -1, -1.0, -1])
        t += bar_seconds
    return out
