"""The client->TWS message budget: evenly spaced sends on a schedule, never N in one window.

IB allows a client about 50 messages per second, requests and cancels alike ("No more
than 50 messages can be sent from an API application ... per second ... Each ticker
subscription request and subscription cancellation request corresponds to 1 message",
https://interactivebrokers.github.io/tws-api/rtd_fqa_errors.html; "the TWS API's
inherent limitation of 50 messages per second",
https://interactivebrokers.github.io/tws-api/order_limitations.html), counted when IB
*receives* them (error 100 beyond). Bursts are what break that limit: a burst that leaves
on time can arrive together with the next one after a short stall anywhere on the path.

So messages go out on an evenly spaced schedule, one slot every `window / per_second`
seconds (49 per 1.05 s: 7 % under IB's rate, room for jitter between our send and IB's
receipt), and, as a second guard on the real send times, never more than `per_second`
within any of IB's own seconds (which also counts what was sent just before, `seed`). The schedule is what a late wake-up is measured against:
a sender that was waiting for its slot and woke late is accounted at the slot it waited
for, up to `catch_up_slots` slots back, so an event loop that is a few milliseconds late
(a loaded machine) does not lose the slot, and at most `1 + catch_up_slots` messages ever
leave back to back. A sender that was not waiting (nothing to send; idle time) gets no
credit: its next message starts the schedule afresh, so idleness never becomes a burst.
"""

from __future__ import annotations

from collections import deque

from collector.ib.session import MESSAGE_WINDOW_SEC

IB_SECOND = 1.0  # the window IB counts its 50 messages in

# One slot of catch-up: a wake-up up to one spacing late keeps its slot (at most two
# messages leave back to back). With it, any one second holds at most (1 s + one spacing)
# / spacing = 48 messages, so the guard of 49 per IB second never cuts into the schedule.
# Measured against none in docs/benchmarks.md ("Engine").
CATCH_UP_SLOTS = 1


class MessageBudget:
    def __init__(
        self,
        per_second: float,
        window: float = MESSAGE_WINDOW_SEC,
        catch_up_slots: float = CATCH_UP_SLOTS,
    ) -> None:
        if per_second <= 0:
            raise ValueError("message budget must be positive")
        self.capacity = max(1, int(per_second))
        self.window = window
        self.rate = self.capacity / window
        self.catch_up_slots = catch_up_slots
        self._next: float | None = None  # the next slot; None: the first message goes at once
        self._waiting = False  # a sender asked for the next slot and is waiting for it
        self._sent: deque[float] = deque()
        self.total = 0
        # Schedule time no message used, by cause (seconds): `late_sec`, a sender waited for
        # its slot but woke later than the catch-up keeps (a loaded machine); `idle_sec`,
        # nothing was waiting to go (lines full, or every open line still in its dwell).
        self.late_sec = 0.0
        self.idle_sec = 0.0

    @property
    def spacing(self) -> float:
        return 1.0 / self.rate

    @property
    def next_slot(self) -> float:
        """The loop time of the next slot (-inf: a message may go at once)."""
        return float("-inf") if self._next is None else self._next

    def seed(self, times: list[float]) -> None:
        """Count messages already sent (e.g. by discovery) against the window."""
        self._sent.extend(sorted(times))
        if times:
            self._next = max(times) + self.spacing

    def slow_down(self, factor: float, floor: float) -> None:
        """After IB still reported a rate error: a lower rate from now on."""
        self.rate = max(self.rate * factor, floor)

    def _expire(self, now: float) -> None:
        sent = self._sent
        # (a tolerance, so that waking at the computed instant always finds the room)
        while sent and now - sent[0] >= IB_SECOND - 1e-9:
            sent.popleft()

    def can_send(self, now: float, n: int = 1) -> bool:
        """Whether a group of `n` messages may go now (a group takes one slot and pushes the
        schedule by `n` slots, so the average rate holds)."""
        self._expire(now)
        if len(self._sent) + n > self.capacity:
            return False
        return self._next is None or now >= self._next - 1e-9

    def take(self, now: float, n: int = 1) -> None:
        """Count `n` messages sent now and move the schedule on by `n` slots."""
        self._expire(now)
        if self._next is None or now - self._next > self._credit():
            # Idle (nobody was waiting) or later than the catch-up allows: start afresh
            # from now, or from the oldest slot the catch-up still keeps.
            base = now - self._credit() if self._next is not None and self._waiting else now
            if self._next is not None and self.total:  # (not the gap since what was seeded)
                if self._waiting:
                    self.late_sec += base - self._next
                else:
                    self.idle_sec += base - self._next
            self._next = max(base, self._next or base)
        self._next += n * self.spacing
        self._waiting = False
        for _ in range(n):
            self._sent.append(now)
        self.total += n

    def _credit(self) -> float:
        return self.catch_up_slots * self.spacing if self._waiting else 0.0

    def wait_time(self, now: float, n: int = 1) -> float:
        """Seconds until `n` messages may be sent; the caller is taken to wait for that
        slot (a late wake-up keeps it, within the catch-up)."""
        self._expire(now)
        self._waiting = True
        waits = [0.0]
        if self._next is not None:
            waits.append(self._next - now)
        over = len(self._sent) + n - self.capacity
        if over > 0:
            waits.append(self._sent[over - 1] + IB_SECOND - now)
        return max(waits)
