"""The snapshot engine against a fake session: budget, line pool, cancel-first, timeout,
requeue and pacing backoff, with every message the engine sends recorded and checked.

The fake stands in for the adapter's session and ib_async's IB object at the seams the
engine uses (reqMktData, cancelMktData, pendingTickersEvent, error listeners); the tickers
are ib_async's own Ticker objects, so quote_from_ticker reads what it reads in production.
Each contract answers after its own dwell, or never; a pacing error can be injected.

The engine runs on an event loop whose clock is virtual (looptime): sleeps and timers
advance the loop's time exactly and at once, so the spacing and budget checks below hold
to the microsecond whatever else the machine is doing, and the suite does not wait for
them in real time.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import looptime
from ib_async import Contract, OptionComputation, Ticker

from collector.ib.errors import ErrorKind, IBErrorEvent
from collector.ib.types import OptionContract
from collector.pipeline.budget import MessageBudget
from collector.pipeline.engine import MIN_SLEEP_SEC, Collected, EngineParams, SnapshotEngine

WINDOW = 1.05  # the budget's window (collector.ib.session.MESSAGE_WINDOW_SEC)
HANG_GUARD_SEC = 120.0  # real seconds; a run takes well under one


class Event:
    """The `+=`/`-=`/emit surface of an eventkit Event."""

    def __init__(self) -> None:
        self.handlers: list[Callable[..., Any]] = []

    def __iadd__(self, fn: Callable[..., Any]) -> Event:
        self.handlers.append(fn)
        return self

    def __isub__(self, fn: Callable[..., Any]) -> Event:
        self.handlers.remove(fn)
        return self

    def emit(self, *args: Any) -> None:
        for fn in list(self.handlers):
            fn(*args)


@dataclass
class FakeIB:
    dwell: dict[int, float | None]  # conid -> seconds until complete; None: never answers
    pacing_on: set[int] = field(default_factory=set)  # conids whose first request is refused
    sent: list[tuple[float, str, int]] = field(default_factory=list)  # (time, kind, conid)
    open_lines: set[int] = field(default_factory=set)
    max_open: int = 0
    errors: list[Callable[[IBErrorEvent], None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.pendingTickersEvent = Event()
        self.disconnectedEvent = Event()
        self.wrapper = type("Wrapper", (), {"tickers": {}})()
        self.refused: set[int] = set()

    def reqMarketDataType(self, kind: int) -> None:
        self.sent.append((asyncio.get_running_loop().time(), "type", kind))

    def reqMktData(self, c: Contract, ticks: str, snapshot: bool, regulatory: bool) -> Ticker:
        loop = asyncio.get_running_loop()
        self.sent.append((loop.time(), "req", c.conId))
        self.open_lines.add(c.conId)
        self.max_open = max(self.max_open, len(self.open_lines))
        ticker = Ticker(contract=c)
        if c.conId in self.pacing_on and c.conId not in self.refused:
            self.refused.add(c.conId)
            loop.call_soon(self._refuse, c.conId)
            return ticker
        dwell = self.dwell[c.conId]
        if dwell is not None:
            loop.call_later(dwell, self._answer, ticker)
        return ticker

    def cancelMktData(self, c: Contract) -> None:
        self.sent.append((asyncio.get_running_loop().time(), "cancel", c.conId))
        self.open_lines.discard(c.conId)

    def _answer(self, ticker: Ticker) -> None:
        if ticker.contract is None or ticker.contract.conId not in self.open_lines:
            return  # cancelled meanwhile: IB sends nothing more
        self.sent.append((asyncio.get_running_loop().time(), "answer", ticker.contract.conId))
        ticker.bid, ticker.ask = 1.0, 1.2
        ticker.modelGreeks = OptionComputation(0, 0.25, 0.5, 1.1, 0.01, 0.1, -0.02, 0.0, 100.0)
        self.pendingTickersEvent.emit({ticker})

    def _refuse(self, conid: int) -> None:
        self.open_lines.discard(conid)  # IB ends a refused request itself
        event = IBErrorEvent(0, 420, "pacing violation", ErrorKind.PACING, conid)
        for listener in list(self.errors):
            listener(event)


class FakeSession:
    """The adapter session's surface the engine and MarketDataLines use; `sent_before`: loop
    times of messages the connection sent just before the engine started (e.g. discovery)."""

    def __init__(self, ib: FakeIB, sent_before: tuple[float, ...] = ()) -> None:
        self.ib = ib
        self.market_data_type = 1
        self.reconnects = 0
        self.sent_before = sent_before

    def is_connected(self) -> bool:
        return True

    def request_market_data_type(self, kind: int) -> None:
        self.ib.reqMarketDataType(kind)

    def add_error_listener(self, fn: Callable[[IBErrorEvent], None]) -> None:
        self.ib.errors.append(fn)

    def remove_error_listener(self, fn: Callable[[IBErrorEvent], None]) -> None:
        self.ib.errors.remove(fn)

    async def drain_outgoing(self) -> None:
        return None

    def recent_send_times(self) -> list[float]:
        return list(self.sent_before)


def contracts(n: int) -> list[OptionContract]:
    return [
        OptionContract(
            1000 + i,
            "AAPL",
            date(2026, 12, 18),
            100.0 + i,
            "C",
            100,
            "SMART",
            "USD",
            f"AAPL {i}",
            "AAPL",
        )
        for i in range(n)
    ]


def run_engine(
    ib: FakeIB,
    items: list[OptionContract],
    *,
    sent_before: tuple[float, ...] = (),
    market_data_type: int | None = None,
    setup: Callable[[SnapshotEngine], None] | None = None,
    hang_guard_sec: float = HANG_GUARD_SEC,
    **params: Any,
) -> tuple[list[Collected], Any]:
    base: dict[str, Any] = dict(
        generic_ticks="", max_lines=5, max_messages_per_sec=20.0, timeout_sec=0.5,
        poll_interval=0.02, pacing_backoff_sec=(0.05, 0.05),
    )  # fmt: skip
    base.update(params)
    out: list[Collected] = []

    async def go() -> Any:
        session = FakeSession(ib, sent_before)
        engine = SnapshotEngine(
            session,  # type: ignore[arg-type]
            EngineParams(**base),
            out.append,
            market_data_type=market_data_type,
        )
        if setup is not None:
            setup(engine)
        return await engine.run(items)

    # A loop that spins without sleeping never moves virtual time: the run goes on a daemon
    # thread, so such a regression fails here instead of hanging the suite.
    loop = looptime.new_event_loop(start=0.0)
    done: list[Any] = []
    failed: list[BaseException] = []

    def work() -> None:
        try:
            done.append(loop.run_until_complete(go()))
        except BaseException as exc:  # raised again below, in the test's own thread
            failed.append(exc)

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    worker.join(hang_guard_sec)
    if failed:
        loop.close()
        raise failed[0]
    assert done, f"the engine did not finish within {hang_guard_sec} s of real time (a spin?)"
    loop.close()
    return out, done[0]


def max_in_window(times: list[float], window: float) -> int:
    times = sorted(times)
    best, j = 0, 0
    for i, t in enumerate(times):
        while t - times[j] >= window:
            j += 1
        best = max(best, i - j + 1)
    return best


def test_budget_and_line_pool_hold_while_every_contract_completes() -> None:
    items = contracts(40)
    ib = FakeIB({c.conid: 0.05 + 0.01 * (i % 7) for i, c in enumerate(items)})
    results, report = run_engine(ib, items, max_lines=5, max_messages_per_sec=20.0)
    assert sorted(r.contract.conid for r in results) == [c.conid for c in items]
    assert report.completed == 40 and report.timed_out == 0 and not report.not_collected
    # one request and one cancel per contract, and nothing else
    kinds = [k for _, k, _ in ib.sent]
    assert kinds.count("req") == 40 and kinds.count("cancel") == 40 and report.messages == 80
    # never more lines than the pool, never more than the budget in any window
    assert ib.max_open <= 5
    messages = [t for t, k, _ in ib.sent if k in ("req", "cancel")]
    assert max_in_window(messages, 1.0) <= 20  # IB counts per second
    # evenly spaced, not bursts: a late wake-up may send its overslept slot with the next
    # one, but no three messages ever leave within one spacing, and most are spaced
    times = sorted(messages)
    spacing = WINDOW / 20
    assert all(c - a >= spacing - 1e-6 for a, c in zip(times, times[2:], strict=False))
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert sorted(gaps)[len(gaps) // 2] >= 0.9 * spacing


def test_cancels_go_before_new_requests_when_lines_are_full() -> None:
    items = contracts(12)
    ib = FakeIB({c.conid: 0.0 for c in items})  # answers at once: cancels and requests compete
    run_engine(ib, items, max_lines=3, max_messages_per_sec=10.0)
    # a new request only ever goes out once a line was freed by a cancel
    open_now = 0
    for _, kind, _ in ib.sent:
        open_now += {"req": 1, "cancel": -1}.get(kind, 0)
        assert open_now <= 3
    # and while the contracts left do not fit in the free lines, a line whose data is
    # complete is cancelled before any later request goes out
    answered: set[int] = set()
    cancelled: set[int] = set()
    left, open_now, checked = len(items), 0, 0
    for _, kind, conid in ib.sent:
        if kind == "answer":
            answered.add(conid)
        elif kind == "cancel":
            cancelled.add(conid)
            open_now -= 1
        elif kind == "req":
            if left > 3 - open_now:
                assert answered <= cancelled, f"request sent while {answered - cancelled} waited"
                checked += 1
            left -= 1
            open_now += 1
    assert checked >= 8


def test_once_the_rest_fits_in_the_free_lines_requests_go_first_and_no_budget_idles() -> None:
    # 40 contracts, 100 lines: all fit from the start. Each request sent sooner starts its
    # dwell sooner; the cancels owed meanwhile fill the slots while the last lines dwell, so
    # the run takes its 80 messages' slots and not the last line's dwell on top.
    items = contracts(40)
    ib = FakeIB({c.conid: 0.5 for c in items})
    results, report = run_engine(ib, items, max_lines=100, max_messages_per_sec=20.0)
    assert report.completed == 40 and len(results) == 40
    kinds = [k for _, k, _ in ib.sent if k in ("req", "cancel")]
    assert kinds == ["req"] * 40 + ["cancel"] * 40
    spacing = WINDOW / 20
    assert report.budget_idle_sec < 1e-6 and report.budget_late_sec < 1e-6
    assert report.collect_sec <= 79 * spacing + 1e-6


def test_a_silent_contract_times_out_with_its_row_kept() -> None:
    items = contracts(4)
    dwell: dict[int, float | None] = {c.conid: 0.05 for c in items}
    dwell[items[2].conid] = None  # IB never answers this one
    ib = FakeIB(dwell)
    results, report = run_engine(ib, items, timeout_sec=0.3)
    by = {r.contract.conid: r for r in results}
    silent = by[items[2].conid]
    assert silent.timed_out and silent.quote is not None and math.isnan(silent.quote.bid)
    assert report.timed_out == 1 and report.completed == 3
    assert ("cancel", items[2].conid) in [(k, c) for _, k, c in ib.sent]  # its line was freed


def test_a_refused_request_is_requeued_after_the_pacing_backoff() -> None:
    items = contracts(6)
    ib = FakeIB({c.conid: 0.05 for c in items}, pacing_on={items[1].conid})
    results, report = run_engine(ib, items, pacing_backoff_sec=(0.2, 0.2))
    assert report.pacing_events == 1 and not report.retry_exceeded
    assert report.completed == 6 and sorted(r.contract.conid for r in results) == sorted(
        c.conid for c in items
    )
    reqs = [t for t, k, c in ib.sent if k == "req" and c == items[1].conid]
    assert len(reqs) == 2 and reqs[1] - reqs[0] >= 0.2  # asked again, after the backoff


def test_persistent_pacing_exhausts_the_backoffs_and_queues_the_rest() -> None:
    items = contracts(8)
    refused = {c.conid for c in items}

    class AlwaysRefuses(FakeIB):
        def reqMktData(self, c: Contract, *args: Any) -> Ticker:
            self.refused.discard(c.conId)  # every request is refused, not only the first
            return super().reqMktData(c, *args)

    ib = AlwaysRefuses({c.conid: 0.05 for c in items}, pacing_on=refused)
    results, report = run_engine(
        ib, items, max_lines=2, pacing_backoff_sec=(0.05, 0.05), sporadic_pacing_pause_sec=0.01
    )
    # short pauses while the refusals could still be sporadic, two backoffs, then give up
    assert report.retry_exceeded and report.pacing_events > 3
    assert report.completed == 0 and len(report.not_collected) + len(results) == 8
    assert report.not_collected  # left for --retry-missed


# --- no state of the budget makes the loop spin -------------------------------------------------
# A pass that may send nothing must sleep until something can change; a loop that comes round
# without sleeping never moves the virtual clock, so each of these hangs (and fails on the
# guard) if it spins. In real time the same spin burns a core until the budget's slot comes.
SPIN_GUARD_SEC = 20.0


def test_a_line_timed_out_between_two_slots_waits_for_the_slot_without_spinning() -> None:
    # Two messages per 1.05 s: a slot every 0.525 s. The silent line times out at 0.1 s,
    # long before the slot its cancel needs: the timeout already passed, the budget refuses.
    items = contracts(2)
    ib = FakeIB({items[0].conid: None, items[1].conid: 0.05})
    results, report = run_engine(
        ib, items, max_messages_per_sec=2.0, timeout_sec=0.1, hang_guard_sec=SPIN_GUARD_SEC
    )
    assert report.timed_out == 1 and report.completed == 1 and len(results) == 2
    cancel = next(t for t, k, c in ib.sent if k == "cancel" and c == items[0].conid)
    assert cancel >= WINDOW / 2 - 1e-6  # it waited for its slot


def test_a_group_waits_for_room_for_all_of_its_messages() -> None:
    # A delayed line opens with three messages (switch, request, switch back). Three messages
    # of the connection's last second leave room for one or two of five, and the schedule's
    # slot has passed: the wait is for room for three, at 0.1 s when the first one expires.
    items = contracts(1)
    ib = FakeIB({items[0].conid: 0.05})
    results, report = run_engine(
        ib,
        items,
        max_messages_per_sec=5.0,
        sent_before=(-0.9, -0.8, -0.7),
        market_data_type=3,  # delayed, while the session streams live (1)
        hang_guard_sec=SPIN_GUARD_SEC,
    )
    assert report.completed == 1 and len(results) == 1
    first = min(t for t, k, _ in ib.sent if k in ("type", "req"))
    assert abs(first - 0.1) < 1e-6  # not before the room was there, nor later
    sends = [-0.9, -0.8, -0.7] + [t for t, k, _ in ib.sent if k in ("type", "req", "cancel")]
    assert max_in_window(sends, 1.0) <= 5


class SelfContradictingBudget(MessageBudget):
    """A budget that refuses every message before `until` yet answers "wait 0": the state the
    engine must survive whatever the budget's arithmetic (a rounding, a future change)."""

    until = 0.3

    def can_send(self, now: float, n: int = 1) -> bool:
        return now >= self.until and super().can_send(now, n)

    def wait_time(self, now: float, n: int = 1) -> float:
        super().wait_time(now, n)
        return 0.0


def test_a_budget_that_answers_wait_0_while_refusing_cannot_make_the_engine_spin() -> None:
    items = contracts(3)
    ib = FakeIB({c.conid: 0.05 for c in items})
    passes: list[float] = []

    def setup(engine: SnapshotEngine) -> None:
        engine.budget = SelfContradictingBudget(20.0)
        sleep = engine._sleep

        async def counted(now: float) -> None:
            passes.append(now)
            await sleep(now)

        engine._sleep = counted  # type: ignore[method-assign]

    results, report = run_engine(ib, items, setup=setup, hang_guard_sec=SPIN_GUARD_SEC)
    assert report.completed == 3 and len(results) == 3
    first = min(t for t, k, _ in ib.sent if k == "req")
    assert first >= SelfContradictingBudget.until - 1e-9
    # before the budget relents the loop sleeps at least its floor on every pass
    early = [t for t in passes if t < SelfContradictingBudget.until]
    assert early and len(early) <= SelfContradictingBudget.until / MIN_SLEEP_SEC + 1
