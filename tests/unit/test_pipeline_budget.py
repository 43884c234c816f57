"""The message budget and the error tables."""

from __future__ import annotations

import itertools

from collector.ib.errors import ErrorKind, classify
from collector.pipeline.budget import MessageBudget


def test_budget_never_exceeds_capacity_in_any_window() -> None:
    budget = MessageBudget(49, window=1.05)
    sent: list[float] = []
    t = 0.0
    while t < 5.0:
        while budget.can_send(t):
            budget.take(t)
            sent.append(t)
        t += 0.001
    for start in sent:
        assert sum(1 for s in sent if start <= s < start + 1.0) <= 49
    gaps = [b - a for a, b in itertools.pairwise(sent)]
    assert min(gaps) >= 0.9 * 1.05 / 49  # a prompt sender is evenly spaced: never a burst
    assert budget.wait_time(t) >= 0.0
    assert len(sent) >= 45 * 4


def _late_sender(budget: MessageBudget, lateness: list[float], horizon: float) -> list[float]:
    """A sender that always has a message, sleeps until its slot and wakes late by the
    next of `lateness` (cycled): the times its messages leave."""
    sent: list[float] = []
    t, i = 0.0, 0
    while t < horizon:
        while budget.can_send(t):
            budget.take(t)
            sent.append(t)
        t += budget.wait_time(t) + lateness[i % len(lateness)]
        i += 1
    return sent


def test_a_late_wake_up_keeps_its_slot_and_never_bursts() -> None:
    spacing = 1.05 / 49
    on_time = _late_sender(MessageBudget(49, window=1.05), [0.0], 20.0)
    # late by up to one spacing at every wake-up: the same rate as a punctual sender
    late = _late_sender(MessageBudget(49, window=1.05), [0.004, 0.012, 0.0, 0.02], 20.0)
    assert len(late) >= len(on_time) - 2
    # much later than the catch-up allows: slots are lost, and still at most two leave
    # together, and never more than 48 in any of IB's seconds
    very_late = _late_sender(MessageBudget(49, window=1.05), [0.0, 0.08], 20.0)
    assert len(very_late) < len(on_time)
    for times in (late, very_late):
        for a, c in zip(times, times[2:], strict=False):
            assert c - a >= spacing - 1e-9  # no three messages within one spacing
        for start in times:
            assert sum(1 for s in times if start <= s < start + 1.0) <= 48


def test_idle_time_is_never_credited() -> None:
    budget = MessageBudget(10, window=1.0)
    budget.take(0.0)
    assert budget.wait_time(0.05) > 0  # a sender waits for the slot at 0.1 ...
    budget.take(0.1)
    # ... then nothing to send for a second: the next message starts the schedule afresh
    budget.take(1.5)
    assert not budget.can_send(1.5) and abs(budget.wait_time(1.5) - 0.1) < 1e-9
    # without a catch-up, a late wake-up loses what it overslept
    strict = MessageBudget(10, window=1.0, catch_up_slots=0)
    strict.take(0.0)
    strict.wait_time(0.0)
    strict.take(0.15)
    assert abs(strict.wait_time(0.15) - 0.1) < 1e-9


def test_budget_counts_earlier_messages_and_slows_down() -> None:
    budget = MessageBudget(10, window=1.0)
    budget.seed([0.0] * 10)
    assert not budget.can_send(0.5) and budget.wait_time(0.5) == 0.5
    assert budget.can_send(1.0)
    budget.slow_down(0.5, floor=2.0)
    assert budget.rate == 5.0


def test_error_classes() -> None:
    assert classify(100) is ErrorKind.RATE_LIMIT
    assert classify(420) is ErrorKind.PACING
    assert (
        classify(
            162,
            "Historical Market Data Service error message:Historical data request pacing violation",
        )
        is ErrorKind.PACING
    )
    assert classify(162, "HMDS query returned no data") is ErrorKind.OTHER
    assert classify(101) is ErrorKind.LINE_LIMIT
    assert classify(354) is ErrorKind.PERMISSION
    assert classify(10167) is ErrorKind.DELAYED_NOTICE
    assert classify(200) is ErrorKind.NO_SECURITY_DEFINITION
    assert classify(1100) is ErrorKind.CONNECTIVITY_LOST
    assert classify(1102) is ErrorKind.CONNECTIVITY_RESTORED
    assert classify(2104) is ErrorKind.INFORMATIONAL
    assert classify(326) is ErrorKind.CLIENT_ID_IN_USE
