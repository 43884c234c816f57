"""IB's limits: client message rate, concurrent market-data lines, historical pacing.

All windows use real (monotonic) time passed in by the caller, never the simulated
clock: IB's limits are about the wire, not the market.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Hashable


class RateVerdict(enum.Enum):
    OK = "ok"
    EXCEEDED = "exceeded"  # send error 100 (at most once per second)
    DISCONNECT = "disconnect"  # the client kept exceeding: drop the connection


class MessageRate:
    """More than `limit` client messages within any 1 s window -> error 100.

    While the client keeps exceeding for `disconnect_after` seconds, the verdict becomes
    DISCONNECT, as TWS closes the socket of a client that does not slow down.
    """

    def __init__(self, limit: int, disconnect_after: float) -> None:
        self.limit = limit
        self.disconnect_after = disconnect_after
        self._times: deque[float] = deque()
        self._violation_start: float | None = None
        self._last_warning = float("-inf")

    def hit(self, now: float) -> RateVerdict:
        times = self._times
        times.append(now)
        while times and times[0] <= now - 1.0:
            times.popleft()
        if len(times) <= self.limit:
            self._violation_start = None
            return RateVerdict.OK
        if self._violation_start is None:
            self._violation_start = now
        if now - self._violation_start >= self.disconnect_after:
            return RateVerdict.DISCONNECT
        if now - self._last_warning >= 1.0:
            self._last_warning = now
            return RateVerdict.EXCEEDED
        return RateVerdict.OK

    @property
    def in_window(self) -> int:
        return len(self._times)


class LinePool:
    """Concurrent market-data lines across all connections (IB counts per account)."""

    def __init__(self, max_lines: int) -> None:
        self.max_lines = max_lines
        self._held: set[Hashable] = set()
        self.max_seen = 0

    def acquire(self, key: Hashable) -> bool:
        if key in self._held:
            return True
        if len(self._held) >= self.max_lines:
            return False
        self._held.add(key)
        self.max_seen = max(self.max_seen, len(self._held))
        return True

    def release(self, key: Hashable) -> None:
        self._held.discard(key)

    def __len__(self) -> int:
        return len(self._held)


class HistoricalPacing:
    """IB's historical-data pacing: no identical request within `identical_window` s and
    at most `max_requests` requests within `window` s. A violation is error 162."""

    def __init__(self, identical_window: float, max_requests: int, window: float) -> None:
        self.identical_window = identical_window
        self.max_requests = max_requests
        self.window = window
        self._recent: deque[tuple[float, Hashable]] = deque()

    def check(self, key: Hashable, now: float) -> str | None:
        """Record a request; the reason it violates pacing, or None when it may proceed."""
        while self._recent and self._recent[0][0] <= now - self.window:
            self._recent.popleft()
        for at, seen in self._recent:
            if seen == key and now - at < self.identical_window:
                return f"identical request within {self.identical_window:g} seconds"
        if len(self._recent) >= self.max_requests:
            return f"more than {self.max_requests} requests within {self.window:g} seconds"
        self._recent.append((now, key))
        return None
