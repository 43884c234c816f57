"""The client->TWS message budget: at most N messages in any sliding window.

IB counts requests AND cancels against ~50 messages/s (error 100 beyond). The window is
slightly longer than one second so that jitter between our send time and the gateway's
receive time cannot squeeze N+1 messages into one of its seconds.
"""

from __future__ import annotations

from collections import deque

from collector.ib.session import MESSAGE_WINDOW_SEC


class MessageBudget:
    def __init__(self, per_second: float, window: float = MESSAGE_WINDOW_SEC) -> None:
        if per_second <= 0:
            raise ValueError("message budget must be positive")
        self.capacity = max(1, int(per_second))
        self.window = window
        self._sent: deque[float] = deque()
        self.total = 0

    def seed(self, times: list[float]) -> None:
        """Count messages already sent (e.g. by discovery) against the window."""
        self._sent.extend(sorted(times))

    def _trim(self, now: float) -> None:
        while self._sent and now - self._sent[0] >= self.window:
            self._sent.popleft()

    def available(self, now: float) -> int:
        self._trim(now)
        return self.capacity - len(self._sent)

    def take(self, now: float, n: int = 1) -> None:
        self._trim(now)
        for _ in range(n):
            self._sent.append(now)
        self.total += n

    def wait_time(self, now: float, n: int = 1) -> float:
        """Seconds until `n` messages may be sent."""
        self._trim(now)
        over = len(self._sent) + n - self.capacity
        if over <= 0:
            return 0.0
        return max(0.0, self._sent[over - 1] + self.window - now)
