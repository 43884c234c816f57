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
    """IB's message limit: about `limit` client messages per second, else error 100.

    Faithful (default): a token bucket of `limit` tokens refilled at `limit` per second,
    so a client that paces itself below the limit at send time (ib_async: 45/s) is not
    punished for the bunching the network adds on arrival. `sliding=True` is the older,
    stricter rule: more than `limit` arrivals within any 1 s window.

    While the client keeps exceeding for `disconnect_after` seconds, the verdict becomes
    DISCONNECT, as TWS closes the socket of a client that does not slow down.
    """

    def __init__(self, limit: int, disconnect_after: float, sliding: bool = False) -> None:
        self.limit = limit
        self.disconnect_after = disconnect_after
        self.sliding = sliding
        self._times: deque[float] = deque()
        self._tokens = float(limit)
        self._refilled: float | None = None
        self._violation_start: float | None = None
        self._last_over = float("-inf")
        self._last_warning = float("-inf")

    def _over(self, now: float) -> bool:
        times = self._times
        times.append(now)
        while times and times[0] <= now - 1.0:
            times.popleft()
        if self.sliding:
            return len(times) > self.limit
        if self._refilled is not None:
            self._tokens = min(self.limit, self._tokens + (now - self._refilled) * self.limit)
        self._refilled = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return False
        return True

    def hit(self, now: float) -> RateVerdict:
        if not self._over(now):
            if now - self._last_over >= 1.0:  # a calm second ends the violation
                self._violation_start = None
            return RateVerdict.OK
        self._last_over = now
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


SMALL_BAR_SECONDS = 30  # IB: the pacing limits apply to bars of 30 seconds or less


class HistoricalPacing:
    """IB's historical-data pacing for small bars: no identical request within
    `identical_window` s and at most `max_requests` requests within `window` s. A
    violation is error 162. IB lifted these limits for bars of 1 minute and larger, so
    those pass unless `all_bar_sizes` (the older rule) is set."""

    def __init__(
        self, identical_window: float, max_requests: int, window: float, all_bar_sizes: bool
    ) -> None:
        self.identical_window = identical_window
        self.max_requests = max_requests
        self.window = window
        self.all_bar_sizes = all_bar_sizes
        self._recent: deque[tuple[float, Hashable]] = deque()

    def check(self, key: Hashable, now: float, bar_seconds: int = 0) -> str | None:
        """Record a request; the reason it violates pacing, or None when it may proceed."""
        if bar_seconds > SMALL_BAR_SECONDS and not self.all_bar_sizes:
            return None
        while self._recent and self._recent[0][0] <= now - self.window:
            self._recent.popleft()
        for at, seen in self._recent:
            if seen == key and now - at < self.identical_window:
                return f"identical request within {self.identical_window:g} seconds"
        if len(self._recent) >= self.max_requests:
            return f"more than {self.max_requests} requests within {self.window:g} seconds"
        self._recent.append((now, key))
        return None
