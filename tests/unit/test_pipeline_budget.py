"""The message budget and the error tables."""

from __future__ import annotations

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
        t += 0.01
    for start in sent:
        assert sum(1 for s in sent if start <= s < start + 1.05) <= 49
    assert budget.wait_time(t) >= 0.0
    assert len(sent) >= 49 * 4


def test_error_classes() -> None:
    assert classify(100) is ErrorKind.PACING
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
