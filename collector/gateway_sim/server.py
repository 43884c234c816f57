"""GatewaySim: the TCP server, shared market state, limits, faults and counters."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import threading
from typing import Any

from collector.gateway_sim.clock import SimClock
from collector.gateway_sim.config import SimConfig
from collector.gateway_sim.connection import ClientConnection
from collector.gateway_sim.contracts import ContractBook
from collector.gateway_sim.faults import FaultPlan
from collector.gateway_sim.history import BarBuilder
from collector.gateway_sim.limits import HistoricalPacing, LinePool
from collector.gateway_sim.market import UnderlyingModel
from collector.gateway_sim.quotes import QuoteEngine
from collector.gateway_sim.restarts import Outage, outage_crossed
from collector.gateway_sim.state import SimStats

log = logging.getLogger(__name__)


class GatewaySim:
    """A simulated IB Gateway speaking the TWS socket protocol on one TCP port."""

    def __init__(self, config: SimConfig | None = None) -> None:
        self.config = config = config or SimConfig()
        self.clock = SimClock(config.clock_start, config.speed)
        self.model = UnderlyingModel(config.seed)
        self.book = ContractBook(self.model, config.unknown_symbols, config.no_options_symbols)
        self.engine = QuoteEngine(self.model)
        self.bars = BarBuilder(self.model, self.engine)
        self.lines = LinePool(config.max_lines)
        self.hist_pacing = HistoricalPacing(
            config.hist_identical_window,
            config.hist_max_requests,
            config.hist_window,
            config.lenient.pace_all_bar_sizes,
        )
        self.faults = FaultPlan(config.faults, config.seed)
        self.stats = SimStats()
        self._dwell_rng = random.Random(config.seed)
        self._order_id = 1
        self._id_lock = threading.Lock()
        self._server: asyncio.Server | None = None
        self._connections: set[ClientConnection] = set()
        self._handlers: set[asyncio.Task[Any]] = set()
        self._watcher: asyncio.Task[None] | None = None
        self._restarter: asyncio.Task[None] | None = None
        self.outage: Outage | None = None  # the restart under way, if any
        self._count = 0
        self.port = 0

    async def start(self) -> int:
        """Listen and return the bound port."""
        self._server = await asyncio.start_server(self._accept, self.config.host, self.config.port)
        self.port = self._server.sockets[0].getsockname()[1]
        if self.config.faults.disconnect_at is not None:
            self._watcher = asyncio.ensure_future(self._watch_disconnect_at())
        if self.config.faults.nightly_restart is not None:
            self._restarter = asyncio.ensure_future(self._watch_restarts())
        log.debug("simulated IB Gateway listening on %s:%d", self.config.host, self.port)
        return self.port

    async def stop(self) -> None:
        """Close the listener and every connection; wait for their handlers to finish."""
        for watcher in (self._watcher, self._restarter):
            if watcher is not None:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
        if self._server is not None:
            self._server.close()
        for conn in list(self._connections):
            conn.closing = True
            with contextlib.suppress(Exception):
                conn.writer.close()
        if self._handlers:  # closed sockets end the handlers; cancel any that linger
            await asyncio.wait(list(self._handlers), timeout=2.0)
        for task in list(self._handlers):
            task.cancel()
        if self._handlers:
            await asyncio.gather(*self._handlers, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self._count += 1
        self.stats.connections += 1
        conn = ClientConnection(self, reader, writer, self._count)
        self._connections.add(conn)
        try:
            await conn.serve()
        except asyncio.CancelledError:
            pass  # stop() gave up waiting; the socket is already closed
        finally:
            self._handlers.discard(task)

    async def _watch_disconnect_at(self) -> None:
        at = self.config.faults.disconnect_at
        assert at is not None
        while self.clock.now() < at:
            await asyncio.sleep(0.02)
        log.info("fault: disconnecting every client at %s", at.isoformat())
        self.faults.disconnect_at_fired = True
        for conn in list(self._connections):
            conn.drop()

    async def _watch_restarts(self) -> None:
        """Each time the clock crosses the restart time: drop everyone, refuse
        connections (the port is closed) until the outage ends, then listen again."""
        before = self.clock.now()
        while True:
            await asyncio.sleep(0.02)
            now = self.clock.now()
            outage = outage_crossed(self.config.faults, before, now)
            before = now
            if outage is None:
                continue
            log.info("fault: %s from %s to %s", outage.reason, outage.start, outage.end)
            self.stats.restarts += 1
            self.outage = outage
            for conn in list(self._connections):
                conn.drop()
            if self._server is not None:
                self._server.close()
                await self._server.wait_closed()
            while self.clock.now() < outage.end:
                await asyncio.sleep(0.02)
            self._server = await asyncio.start_server(self._accept, self.config.host, self.port)
            self.outage = None
            before = self.clock.now()
            log.info("fault: the gateway is back after the %s", outage.reason)

    # -- shared state the connections use -------------------------------------------------
    def forget(self, conn: object) -> None:
        if isinstance(conn, ClientConnection):
            self._connections.discard(conn)

    def client_id_in_use(self, client_id: int, asking: object) -> bool:
        return any(
            c is not asking and c.client_id == client_id and not c.closing
            for c in self._connections
        )

    def next_order_id(self) -> int:
        with self._id_lock:
            self._order_id += 1
            return self._order_id

    def sample_dwell(self) -> float:
        """Seconds until a contract's model greeks arrive (log-normal, clipped)."""
        d = self.config.dwell
        value = d.median * math.exp(d.sigma * self._dwell_rng.gauss(0.0, 1.0))
        return min(max(value, d.low), d.high)
