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
        while budget.available(t) > 0:
            budget.take(t)
            sent.append(t)
        t += 0.001
    for start in sent:
        assert sum(1 for s in sent if start <= s < start + 1.05) <= 49
    gaps = [b - a for a, b in itertools.pairwise(sent)]
    assert min(gaps[1:]) >= 0.25 * 1.05 / 49  # evenly spaced: never a burst
    assert budget.wait_time(t) >= 0.0
    assert len(sent) >= 45 * 4


def test_budget_counts_earlier_messages_and_slows_down() -> None:
    budget = MessageBudget(10, window=1.0)
    budget.seed([0.0] * 10)
    assert budget.available(0.5) == 0 and budget.wait_time(0.5) == 0.5
    assert budget.available(1.0) == 1
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
