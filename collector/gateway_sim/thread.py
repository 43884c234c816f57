"""SimThread: a GatewaySim on its own event loop in a background thread.

For callers that use the blocking ib_async API (which runs its own loop in the calling
thread) and for pipeline tests that need a gateway next to synchronous code.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable
from types import TracebackType
from typing import TypeVar

from collector.gateway_sim.clock import SimClock
from collector.gateway_sim.config import SimConfig
from collector.gateway_sim.server import GatewaySim
from collector.gateway_sim.state import SimStats

T = TypeVar("T")


class SimThread:
    def __init__(self, config: SimConfig | None = None) -> None:
        self.sim = GatewaySim(config)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._started: concurrent.futures.Future[int] = concurrent.futures.Future()

    @property
    def port(self) -> int:
        return self.sim.port

    @property
    def clock(self) -> SimClock:
        return self.sim.clock

    @property
    def stats(self) -> SimStats:
        return self.sim.stats

    def start(self, timeout: float = 10.0) -> int:
        """Start the thread and the server; return the bound port."""
        if self._thread is not None:
            return self.port
        self._thread = threading.Thread(target=self._run, name="gateway-sim", daemon=True)
        self._thread.start()
        return self._started.result(timeout)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            port = loop.run_until_complete(self.sim.start())
        except BaseException as exc:  # report bind failures to start()
            self._started.set_exception(exc)
            loop.close()
            return
        self._started.set_result(port)
        try:
            loop.run_forever()
        finally:
            leftovers = asyncio.all_tasks(loop)  # none after a clean stop(); be sure anyway
            for task in leftovers:
                task.cancel()
            if leftovers:
                loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def call(self, fn: Callable[..., T], *args: object, timeout: float = 10.0) -> T:
        """Run a plain function on the simulator's loop (thread-safe) and return its result."""
        assert self._loop is not None, "SimThread is not running"

        async def runner() -> T:
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(runner(), self._loop).result(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server, close every connection and join the thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if not loop.is_closed():
            asyncio.run_coroutine_threadsafe(self.sim.stop(), loop).result(timeout)
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        self._thread = None
        self._loop = None

    def __enter__(self) -> SimThread:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
