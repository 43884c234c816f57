"""When IB reports pacing (420, or 162 saying "pacing"): pause briefly or back off, or give up.

A pacing error now and then (a few requests in a hundred refused) is answered with one
short pause and the refused request asked again; the backoff ladder
(acquisition.pacing_backoff_sec, 30/60/120/240 s) is for pacing that persists - when at
least `persistent_share` of the recent requests were refused. Each sporadic pause resets
the ladder, so a slot gives up (slot_retry_exceeded) only when pacing persists through
every step of it. IB documents the pacing errors but not their cadence; the share is ours:
https://interactivebrokers.github.io/tws-api/message_codes.html (420, 162).
"""

from __future__ import annotations

from collections import deque

RECENT_EVENTS = 100  # opened and refused requests remembered
PERSISTENT_SHARE = 0.5  # refused / opened among them at or above which pacing persists


class PacingLadder:
    def __init__(
        self,
        backoffs: tuple[float, ...],
        short_pause: float,
        *,
        recent: int = RECENT_EVENTS,
        persistent_share: float = PERSISTENT_SHARE,
    ) -> None:
        self.backoffs = tuple(backoffs)
        self.short_pause = short_pause
        self.persistent_share = persistent_share
        self._left = list(self.backoffs)
        self._recent: deque[bool] = deque(maxlen=recent)  # True: refused
        self.sporadic = 0  # short pauses taken
        self.steps = 0  # ladder steps taken

    def opened(self) -> None:
        self._recent.append(False)

    def refused(self) -> None:
        self._recent.append(True)

    def share(self) -> float:
        """Refused / opened among the recent requests; a few requests are no evidence yet,
        so the share is taken over at least a quarter of the window."""
        refused = sum(self._recent)
        opened = len(self._recent) - refused
        return refused / max(opened, self._recent.maxlen // 4 if self._recent.maxlen else 1)

    def next_pause(self) -> float | None:
        """Seconds to pause for the pacing just reported; None: pacing persists, give up."""
        if self.share() < self.persistent_share:
            self._left = list(self.backoffs)  # a quiet stretch: the ladder starts over
            self.sporadic += 1
            return self.short_pause
        if not self._left:
            return None
        self.steps += 1
        return self._left.pop(0)
