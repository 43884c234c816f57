"""The client->TWS message budget: evenly spaced sends, never N in one window.

IB counts requests AND cancels against ~50 messages/s at the moment it *receives* them
(error 100 beyond). Bursts are what break that limit: a burst that leaves on time can
arrive together with the next one after a short stall anywhere on the path. So messages
are spaced evenly at `per_second / window` (a token bucket holding at most 1.25 tokens,
just enough to absorb timer lateness), and a sliding window of `window` seconds caps
them at `per_second` as a second guard.
"""

from __future__ import annotations

from collections import deque

from collector.ib.session import MESSAGE_WINDOW_SEC


class MessageBudget:
    def __init__(
        self, per_second: float, window: float = MESSAGE_WINDOW_SEC, burst: float = 1.25
    ) -> None:
        if per_second <= 0:
            raise ValueError("message budget must be positive")
        self.capacity = max(1, int(per_second))
        self.window = window
        self.rate = self.capacity / window
        self.burst = burst
        self._tokens = burst
        self._last: float | None = None
        self._sent: deque[float] = deque()
        self.total = 0

    def seed(self, times: list[float]) -> None:
        """Count messages already sent (e.g. by discovery) against the window."""
        self._sent.extend(sorted(times))
        if times:
            self._last = max(times)
            self._tokens = 0.0

    def slow_down(self, factor: float, floor: float) -> None:
        """After IB still reported a rate error: a lower rate from now on."""
        self.rate = max(self.rate * factor, floor)

    def _refill(self, now: float) -> None:
        while self._sent and now - self._sent[0] >= self.window:
            self._sent.popleft()
        if self._last is not None:
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now

    def available(self, now: float) -> int:
        self._refill(now)
        return max(0, min(int(self._tokens + 1e-9), self.capacity - len(self._sent)))

    def can_send(self, now: float, n: int = 1) -> bool:
        """Whether a group of `n` messages may go now (a group may run the bucket into debt,
        which the following messages pay back, so the average rate holds)."""
        self._refill(now)
        return self._tokens >= 1.0 - 1e-9 and len(self._sent) + n <= self.capacity

    def take(self, now: float, n: int = 1) -> None:
        self._refill(now)
        self._tokens -= n
        for _ in range(n):
            self._sent.append(now)
        self.total += n

    def wait_time(self, now: float, n: int = 1) -> float:
        """Seconds until `n` messages may be sent."""
        self._refill(now)
        waits = [0.0]
        need = min(n, 1)  # a group needs one token; the rest is debt
        if self._tokens < need:
            waits.append((need - self._tokens) / self.rate)
        over = len(self._sent) + n - self.capacity
        if over > 0:
            waits.append(self._sent[over - 1] + self.window - now)
        return max(waits)
