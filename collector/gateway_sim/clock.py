"""The simulator's clock: wall time by default, or a chosen start that runs at `speed`.

The market state (open/frozen, prices, listings) is a function of this clock, so a driver
can jump the market to any ET instant of any date with `set()`.
"""

from __future__ import annotations

import threading
import time as _time
from datetime import datetime, time, timedelta

from shared.calendar import ET, UTC


def parse_clock(text: str) -> datetime:
    """'YYYY-MM-DD' (the 09:30 ET open) or 'YYYY-MM-DDTHH:MM' (ET) -> aware datetime."""
    raw = text.strip()
    try:
        if "T" in raw:
            day_text, _, hhmm = raw.partition("T")
            day = datetime.fromisoformat(day_text).date()
            at = time.fromisoformat(hhmm)
        else:
            day, at = datetime.fromisoformat(raw).date(), time(9, 30)
    except ValueError:
        raise ValueError(
            f"clock must be YYYY-MM-DD or YYYY-MM-DDTHH:MM (ET), got {text!r}"
        ) from None
    return datetime.combine(day, at, ET)


class SimClock:
    """now() = anchor + (monotonic elapsed) * speed; wall time when no anchor is set."""

    def __init__(self, start: datetime | None = None, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError("speed must be > 0")
        self._lock = threading.Lock()
        self._speed = speed
        self._anchor: tuple[datetime, float] | None = None
        if start is not None or speed != 1.0:
            self.set(start or datetime.now(UTC))

    @property
    def speed(self) -> float:
        return self._speed

    def now(self) -> datetime:
        """The simulated instant, tz-aware in ET."""
        with self._lock:
            anchor = self._anchor
            speed = self._speed
        if anchor is None:
            return datetime.now(UTC).astimezone(ET)
        sim_start, real_start = anchor
        elapsed = (_time.monotonic() - real_start) * speed
        return (sim_start + timedelta(seconds=elapsed)).astimezone(ET)

    def set(self, when: datetime, speed: float | None = None) -> None:
        """Jump to `when` (naive means ET) and run on from there."""
        if when.tzinfo is None:
            when = when.replace(tzinfo=ET)
        with self._lock:
            if speed is not None:
                if speed <= 0:
                    raise ValueError("speed must be > 0")
                self._speed = speed
            self._anchor = (when, _time.monotonic())

    def real_seconds(self, sim_seconds: float) -> float:
        """How long a simulated duration takes in real time at the current speed."""
        return sim_seconds / self._speed
