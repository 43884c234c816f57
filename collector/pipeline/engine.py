"""The snapshot engine: a pool of streaming market-data lines under one message budget.

Physical limits (ARCHITECTURE section 5): <= N messages/s client->TWS, requests and cancels
alike; <= max_lines concurrent lines; a contract holds its line for its dwell time. So the
engine keeps the pool full, releases each line the moment its required fields are there
(or at its timeout, keeping the row with flags) and spends the budget on cancels first,
since a cancel frees a line - until every contract left fits in the free lines, when the
last requests go first so that their dwell overlaps the cancels still owed. It never needs to trigger error 100 or 101; when IB still
reports pacing it pauses briefly for a sporadic refusal and backs off 30/60/120/240 s only
while pacing persists, then gives up (slot_retry_exceeded; collector.pipeline.pacing).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from collector.ib.errors import DATA_LOST, ErrorKind, IBConnectError, IBErrorEvent
from collector.ib.marketdata import Line, MarketDataLines, has_open_interest
from collector.ib.session import IBSession
from collector.ib.types import OptionContract, QuoteSnapshot
from collector.pipeline.budget import MessageBudget
from collector.pipeline.pacing import PacingLadder
from shared.schema import MarketDataType

log = logging.getLogger(__name__)

# The loop's floor: a pass that could send nothing sleeps at least this long, whatever the
# budget answers, so no state of the budget (or a rounding in its arithmetic) can make the
# loop come round without sleeping and burn a core until its slot. Well under a slot
# (21 ms), and a wake-up that late keeps its slot anyway (the budget's catch-up).
MIN_SLEEP_SEC = 0.001


@dataclass(frozen=True)
class EngineParams:
    generic_ticks: str
    max_lines: int = 100
    max_messages_per_sec: float = 45.0
    timeout_sec: float = 12.0
    poll_interval: float = 0.25
    require_greeks: bool = True
    require_open_interest: bool = False
    exchange: str = "SMART"
    fallback_exchanges: tuple[str, ...] = ()
    allow_delayed_fallback: bool = True
    pacing_backoff_sec: tuple[float, ...] = (30, 60, 120, 240)
    sporadic_pacing_pause_sec: float | None = None  # None: one budget window (1.05 s)


@dataclass(frozen=True)
class Collected:
    """The outcome for one contract: its last quote (or None) and why it ended."""

    contract: OptionContract
    quote: QuoteSnapshot | None
    timed_out: bool = False
    no_permission: bool = False
    delayed_fallback: bool = False
    missing_reason: str | None = None


@dataclass
class EngineReport:
    total: int = 0
    completed: int = 0
    timed_out: int = 0
    no_permission: int = 0
    no_definition: int = 0
    delayed_fallback: int = 0
    pacing_events: int = 0
    line_limit_events: int = 0
    rate_limit_events: int = 0
    reconnects: int = 0
    messages: int = 0
    retry_exceeded: bool = False
    not_collected: list[OptionContract] = field(default_factory=list)
    error_codes: dict[int, int] = field(default_factory=dict)
    # Seconds each emitted contract held its line (open to release): the dwell that, with
    # max_lines, sets the ceiling lines/dwell; the console charts its distribution.
    dwell_sec: list[float] = field(default_factory=list)
    # Wall time of the line loop alone (no discovery or reference prices): contracts/s.
    collect_sec: float = 0.0
    # Budget time no message used (collector.pipeline.budget): lost to late wake-ups, and
    # idle (nothing to send: the last lines' dwell, or lines full).
    budget_late_sec: float = 0.0
    budget_idle_sec: float = 0.0


@dataclass
class _Work:
    contract: OptionContract
    exchange_idx: int = 0
    delayed: bool = False
    requeued: int = 0


@dataclass
class _Active:
    work: _Work
    line: Line
    started: float
    pacing_epoch: int


class SnapshotEngine:
    """Collect one quote per contract; `on_result` is called once per contract."""

    def __init__(
        self,
        session: IBSession,
        params: EngineParams,
        on_result: Callable[[Collected], None],
        *,
        market_data_type: int | None = None,
    ) -> None:
        self.session = session
        self.p = params
        self.on_result = on_result
        self.market_data_type = market_data_type
        self.budget = MessageBudget(params.max_messages_per_sec)
        self.exchanges = (
            params.exchange,
            *[e for e in params.fallback_exchanges if e != params.exchange],
        )
        self.report = EngineReport()
        self._lines = MarketDataLines(session)
        self._queue: deque[_Work] = deque()
        self._active: dict[int, _Active] = {}
        self._ready: dict[int, bool] = {}  # conid -> timed_out, waiting for a cancel
        # The loop sleeps on one future with one timer (cheaper per pass than an Event
        # under asyncio.wait_for, which makes a task each time); `_poke` ends the sleep.
        self._waiter: asyncio.Future[None] | None = None
        self._sleep_until = 0.0
        self._max_lines = params.max_lines
        self._pacing_pending = False
        self._rate_pending = False
        self._resubscribe = False
        self._disconnected = False
        self._delayed_symbols: set[str] = set()
        self._pacing_epoch = 0
        self._pacing = PacingLadder(
            params.pacing_backoff_sec, params.sporadic_pacing_pause_sec or self.budget.window
        )

    # --- event handlers (called synchronously by the library) ------------------------------
    def _on_update(self, conids: set[int]) -> None:
        # The one place a line is found complete: ib_async reports every ticker that got
        # data once per socket read (pendingTickersEvent), so the loop never rescans lines.
        hit = False
        active, ready = self._active, self._ready
        for conid in conids:
            act = active.get(conid)
            if act is not None and conid not in ready and self._complete(act.line):
                ready[conid] = False
                hit = True
        # Its cancel waits for the next budget slot: wake the loop only if it sleeps past it.
        if hit and self._sleep_until > self.budget.next_slot + 1e-3:
            self._poke()

    def _poke(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _complete(self, line: Line) -> bool:
        if self.p.require_open_interest:
            return has_open_interest(line.ticker, line.contract.right)
        return line.complete(self.p.require_greeks)

    def _on_error(self, ev: IBErrorEvent) -> None:
        self.report.error_codes[ev.code] = self.report.error_codes.get(ev.code, 0) + 1
        act = self._active.get(ev.conid) if ev.conid else None
        if ev.kind is ErrorKind.RATE_LIMIT:
            # Our spacing met a stall somewhere on the path: let IB's window clear, then
            # go on a little slower. (Pacing violations proper get the long backoffs.)
            self.report.rate_limit_events += 1
            self._rate_pending = True
        elif ev.kind is ErrorKind.PACING:
            self._pacing_pending = True
            self._pacing.refused()
            if act is not None:  # this request was refused: ask again after the backoff
                self._drop(ev.conid)
                self._queue.appendleft(act.work)
        elif ev.kind is ErrorKind.LINE_LIMIT:
            self.report.line_limit_events += 1
            if act is not None:
                self._drop(ev.conid)
                self._queue.appendleft(act.work)
                self._max_lines = max(1, min(self._max_lines, len(self._active)))
        elif ev.kind is ErrorKind.PERMISSION and act is not None:
            self._drop(ev.conid)
            work = act.work
            if self.p.allow_delayed_fallback and not work.delayed:
                work.delayed = True
                self._delayed_symbols.add(work.contract.symbol)
                self._queue.appendleft(work)
            else:
                self.report.no_permission += 1
                self._emit(
                    Collected(
                        work.contract,
                        act.line.snapshot(),
                        no_permission=True,
                        delayed_fallback=work.delayed,
                        missing_reason="no_permission",
                    )
                )
        elif ev.kind is ErrorKind.NO_SECURITY_DEFINITION and act is not None:
            self._drop(ev.conid)
            work = act.work
            work.exchange_idx += 1
            if work.exchange_idx < len(self.exchanges):
                self._queue.appendleft(work)
            else:
                self.report.no_definition += 1
                self._emit(
                    Collected(
                        work.contract,
                        None,
                        delayed_fallback=work.delayed,
                        missing_reason="no_security_definition",
                    )
                )
        elif ev.code in DATA_LOST:
            self._resubscribe = True
        elif act is not None:
            self._lines.note_error(ev.conid, ev.code)
        self._poke()

    def _on_disconnect(self) -> None:
        self._disconnected = True
        self._poke()

    # --- bookkeeping --------------------------------------------------------------------------
    def _drop(self, conid: int) -> None:
        """Forget a line IB already ended (no cancel message is owed)."""
        self._active.pop(conid, None)
        self._ready.pop(conid, None)
        self._lines.lines.pop(conid, None)

    def _emit(self, result: Collected) -> None:
        if result.quote is not None and not result.timed_out and not result.no_permission:
            self.report.completed += 1
        if result.timed_out:
            self.report.timed_out += 1
        if result.delayed_fallback:
            self.report.delayed_fallback += 1
        self.on_result(result)

    def _release(self, conid: int, timed_out: bool, now: float) -> None:
        act = self._active.pop(conid)
        self._ready.pop(conid, None)
        snap = self._lines.close(conid)
        self.budget.take(now)
        work = act.work
        if (
            timed_out
            and act.pacing_epoch < self._pacing_epoch
            and work.requeued == 0
            and snap is not None
            and snap.model is None
            and snap.bid != snap.bid  # NaN: nothing arrived, the request was likely refused
        ):
            work.requeued += 1
            self._queue.appendleft(work)
            return
        self.report.dwell_sec.append(now - act.started)
        self._emit(
            Collected(work.contract, snap, timed_out=timed_out, delayed_fallback=work.delayed)
        )

    def _falls_back(self, work: _Work) -> bool:
        """Whether `work` opens delayed: itself or its symbol fell back for want of permission."""
        return work.delayed or work.contract.symbol in self._delayed_symbols

    def _open_cost(self, work: _Work) -> int:
        kind = MarketDataType.DELAYED if self._falls_back(work) else self.market_data_type
        return self._lines.messages_for_open(kind)

    def _open(self, work: _Work, now: float) -> bool:
        work.delayed = self._falls_back(work)
        kind = MarketDataType.DELAYED if work.delayed else self.market_data_type
        cost = self._lines.messages_for_open(kind)
        if not self.budget.can_send(now, cost):
            return False
        line = self._lines.open(
            work.contract,
            self.p.generic_ticks,
            exchange=self.exchanges[work.exchange_idx],
            market_data_type=kind,
        )
        self.budget.take(now, cost)
        self._pacing.opened()
        self._active[work.contract.conid] = _Active(work, line, now, self._pacing_epoch)
        return True

    # --- main loop ----------------------------------------------------------------------------
    async def run(self, contracts: Iterable[OptionContract]) -> EngineReport:
        self._queue.extend(_Work(c) for c in contracts)
        self.report.total = len(self._queue)
        self._lines.on_update(self._on_update)
        self.session.add_error_listener(self._on_error)
        self.session.ib.disconnectedEvent += self._on_disconnect
        try:
            # Start from what the connection already spent: messages sent just before
            # (discovery, reference prices) still count against IB's window.
            await self.session.drain_outgoing()
            self.budget.seed(self.session.recent_send_times())
            began = asyncio.get_running_loop().time()
            await self._loop()
            self.report.collect_sec = asyncio.get_running_loop().time() - began
        finally:
            self.session.remove_error_listener(self._on_error)
            self.session.ib.disconnectedEvent -= self._on_disconnect
            self._lines.detach()
        self._count_budget()
        self.report.reconnects = self.session.reconnects
        return self.report

    def _count_budget(self) -> None:
        """Add the budget's counts to the report (before a pause replaces the budget)."""
        b, r = self.budget, self.report
        r.messages += b.total
        r.budget_late_sec += b.late_sec
        r.budget_idle_sec += b.idle_sec

    def _new_budget(self) -> None:
        """A fresh schedule after a pause or a reconnect (nothing is owed from before it)."""
        self._count_budget()
        self.budget = MessageBudget(self.p.max_messages_per_sec, self.budget.window)

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while self._queue or self._active:
            if self._disconnected or not self.session.is_connected():
                await self._recover_connection()
                continue
            if self._pacing_pending:
                self._pacing_pending = False
                self.report.pacing_events += 1
                self._pacing_epoch += 1
                pause = self._pacing.next_pause()
                if pause is None:  # persisted through every backoff
                    await self._give_up()
                    return
                if pause > self.budget.window:
                    log.warning("pacing violation from IB: backing off %.0f s", pause)
                await asyncio.sleep(pause)
                self._new_budget()
                continue
            if self._rate_pending:
                self._rate_pending = False
                await asyncio.sleep(self.budget.window)
                self.budget.slow_down(0.98, floor=0.5 * self.budget.capacity / self.budget.window)
                continue
            if self._resubscribe:
                self._resubscribe = False
                self._requeue_active()
            now = loop.time()
            self._collect_finished(now)
            if self._tail():
                now = self._open_queued(loop, now)
                now = self._release_ready(loop, now)
            else:
                now = self._release_ready(loop, now)
                now = self._open_queued(loop, now)
            if not self._queue and not self._active:
                break
            await self._sleep(now)

    def _tail(self) -> bool:
        """Whether every contract left fits in the free lines. Cancels go first to free lines
        for the next requests; once the rest fit, a freed line gains nothing, and each request
        sent sooner starts its dwell sooner: the last requests' dwell then passes while the
        cancels owed meanwhile go out, instead of at the end with nothing left to send."""
        return 0 < len(self._queue) <= self._max_lines - len(self._active)

    # Each message is accounted at the moment it leaves, not at the top of the pass: on a busy
    # machine a pass can take long enough for a stale stamp to let more than the budget
    # through one window.
    def _release_ready(self, loop: asyncio.AbstractEventLoop, now: float) -> float:
        for conid in list(self._ready):
            now = loop.time()
            if not self.budget.can_send(now):
                break
            self._release(conid, self._ready[conid], now)
        return now

    def _open_queued(self, loop: asyncio.AbstractEventLoop, now: float) -> float:
        while self._queue and len(self._active) < self._max_lines:
            now = loop.time()
            if not self._open(self._queue[0], now):
                break
            self._queue.popleft()
        return now

    def _collect_finished(self, now: float) -> None:
        """Lines past their timeout (completion is found by `_on_update`). `_active` is in
        opening order, so only the lines old enough are looked at."""
        limit = now - self.p.timeout_sec
        for conid, act in self._active.items():
            if act.started > limit:
                break
            if conid not in self._ready:
                self._ready[conid] = not self._complete(act.line)

    async def _sleep(self, now: float) -> None:
        """Sleep until the next thing the loop can do: the budget's slot for the next message
        (a cancel, or an open with its group of messages, in the loop's order), the next line
        to time out, or an event (`_poke`). Lines already waiting for their cancel are the
        budget's wait, not a timeout's: counting them made a timed-out line whose slot had not
        come ask for a wait of 0, and the loop spun until the slot."""
        waits = [self.p.poll_interval]
        can_open = bool(self._queue) and len(self._active) < self._max_lines
        if can_open and (self._tail() or not self._ready):
            waits.append(self.budget.wait_time(now, self._open_cost(self._queue[0])))
        elif self._ready:
            waits.append(self.budget.wait_time(now))
        ready = self._ready
        for conid, act in self._active.items():
            if conid not in ready:  # the oldest line still waiting for its data
                waits.append(act.started + self.p.timeout_sec - now)
                break
        delay = max(MIN_SLEEP_SEC, min(waits))
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        self._sleep_until = now + delay
        timer = loop.call_at(self._sleep_until, _wake_up, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            self._waiter = None
            self._sleep_until = 0.0

    def _requeue_active(self) -> None:
        works = [a.work for a in self._active.values()]
        self._active.clear()
        self._ready.clear()
        self._lines.drop_all()
        self._queue.extendleft(reversed(works))

    async def _recover_connection(self) -> None:
        """Reconnect and resume: only contracts not yet released are subscribed again."""
        log.warning("connection to IB lost during a snapshot: reconnecting")
        self._requeue_active()
        self._disconnected = False
        try:
            await self.session.reconnect()
        except IBConnectError:
            self.report.not_collected = [w.contract for w in self._queue]
            self._queue.clear()
            raise
        self._new_budget()

    async def _give_up(self) -> None:
        """Pacing backoffs exhausted: release what is open, leave the rest for the retry queue."""
        self.report.retry_exceeded = True
        loop = asyncio.get_running_loop()
        for conid in list(self._active):
            now = loop.time()
            wait = self.budget.wait_time(now)
            if wait > 0:
                await asyncio.sleep(wait)
                now = loop.time()
            if conid in self._active and self.session.is_connected():
                self._release(conid, True, now)
        self.report.not_collected = [w.contract for w in self._queue]
        self._queue.clear()


def _wake_up(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
