"""One connection to IB Gateway/TWS: client id, readonly, market data type, timeouts, reconnect.

Every awaited request goes through `IBSession.request`, which bounds it with a timeout and
turns a dropped socket into IBDisconnected. Errors from IB are classified once
(collector.ib.errors) and fanned out to listeners keyed by nothing but their class.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from collector.ib._lib import IB, LIBRARY, ibapi
from collector.ib.errors import (
    ErrorKind,
    IBConnectError,
    IBDisconnected,
    IBErrorEvent,
    IBTimeout,
    classify,
)
from shared.config import IBConfig

log = logging.getLogger(__name__)
T = TypeVar("T")
ErrorListener = Callable[[IBErrorEvent], None]
# The budget counts messages per this window, a little over IB's 1 s, so that jitter
# between our send time and the gateway's receive time cannot fit N+1 into its second.
MESSAGE_WINDOW_SEC = 1.05


def client_id_candidates(cfg: IBConfig, salt: int | None = None) -> list[int]:
    """The explicit client id, else every id of the pool starting at a per-process offset.

    The offset spreads concurrent processes over the pool so they rarely collide; a
    collision (error 326) just moves on to the next id.
    """
    if cfg.client_id is not None:
        return [cfg.client_id]
    lo, hi = cfg.pool_range()
    ids = list(range(lo, hi + 1))
    start = (os.getpid() if salt is None else salt) % len(ids)
    return ids[start:] + ids[:start]


FROZEN_VARIANT = {1: 2, 3: 4}


class IBSession:
    """An ib_async connection with the collector's guarantees; use `async with`."""

    def __init__(
        self,
        cfg: IBConfig,
        *,
        market_data_type: int | None = None,
        max_messages_per_sec: float | None = None,
    ) -> None:
        self.cfg = cfg
        self.market_data_type = market_data_type or cfg.market_data_type
        self.max_messages_per_sec = max_messages_per_sec or cfg.max_messages_per_sec
        self.ib = IB()
        self.client_id: int | None = None
        self.reconnects = 0
        self._listeners: list[ErrorListener] = []
        self._client_id_in_use = asyncio.Event()
        self._closing = False
        self.ib.errorEvent += self._on_error

    # --- lifecycle ------------------------------------------------------------------------
    async def __aenter__(self) -> IBSession:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def is_connected(self) -> bool:
        return bool(self.ib.isConnected())

    async def connect(self) -> IBSession:
        last_error = "no client id tried"
        for cid in client_id_candidates(self.cfg):
            try:
                await self._connect_once(cid)
            except _ClientIdInUse:
                last_error = f"client id {cid} in use"
                continue
            except (TimeoutError, OSError, ConnectionError) as exc:
                raise IBConnectError(
                    f"cannot connect to IB at {self.cfg.host}:{self.cfg.port} "
                    f"(client id {cid}): {exc.__class__.__name__} {exc}".rstrip()
                ) from None
            self.client_id = cid
            self._apply_session_settings()
            log.info(
                "connected to %s:%s as client %s (%s)", self.cfg.host, self.cfg.port, cid, LIBRARY
            )
            return self
        raise IBConnectError(
            f"cannot connect to IB at {self.cfg.host}:{self.cfg.port}: {last_error}"
        )

    async def _connect_once(self, cid: int) -> None:
        self._client_id_in_use.clear()
        kwargs: dict[str, Any] = {
            "timeout": self.cfg.connect_timeout_sec,
            "readonly": self.cfg.readonly,
        }
        if hasattr(ibapi, "StartupFetchNONE"):
            kwargs["fetchFields"] = ibapi.StartupFetchNONE
        connect = asyncio.ensure_future(
            self.ib.connectAsync(self.cfg.host, self.cfg.port, cid, **kwargs)
        )
        in_use = asyncio.ensure_future(self._client_id_in_use.wait())
        try:
            await asyncio.wait({connect, in_use}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            in_use.cancel()
        if self._client_id_in_use.is_set():
            connect.cancel()
            self.ib.disconnect()
            await asyncio.sleep(0)
            raise _ClientIdInUse(cid)
        connect.result()

    def _apply_session_settings(self) -> None:
        # The library's own throttle stays as a backstop: N messages per IB's 1 s. The
        # engine's evenly spaced budget (N per MESSAGE_WINDOW_SEC) stays below it, so the
        # backstop never queues (a queued message would leave in a burst with the next).
        self.ib.client.MaxRequests = int(self.max_messages_per_sec)
        self.ib.client.RequestsInterval = 1
        self.request_market_data_type(self.market_data_type)

    async def reconnect(self) -> None:
        """Reconnect after a drop: a full new handshake; the caller re-issues its lines."""
        delay = 0.5
        for attempt in range(1, self.cfg.reconnect_attempts + 1):
            self.ib.disconnect()
            await asyncio.sleep(delay)
            try:
                await self.connect()
                self.reconnects += 1
                return
            except IBConnectError as exc:
                log.warning("reconnect attempt %d failed: %s", attempt, exc)
                delay = min(delay * 2, 10.0)
        raise IBConnectError(
            f"lost the connection to IB at {self.cfg.host}:{self.cfg.port} and "
            f"{self.cfg.reconnect_attempts} reconnect attempts failed"
        )

    def close(self) -> None:
        self._closing = True
        self.ib.disconnect()

    def set_market_data_type(self, kind: int) -> None:
        """Session state: applies to every later subscription on this connection."""
        self.market_data_type = kind
        self.request_market_data_type(kind)

    def request_market_data_type(self, kind: int) -> None:
        """Ask IB for `kind`, as its frozen variant: live (1) goes out as 2 and delayed (3)
        as 4. IB serves live (or delayed) data whenever it has it either way, and says so
        with marketDataType 1 (3), which is what the rows record; only a closed market
        differs: live gets -1 for bid and ask, frozen gets the last quote before the close
        (IB's "Market Data Types" page). So the 16:00 slot and an off-hours run still get
        quotes."""
        self.ib.reqMarketDataType(FROZEN_VARIANT.get(kind, kind))

    @contextmanager
    def market_data_type_as(self, kind: int) -> Iterator[None]:
        """Switch the session's market data type for a block, then restore the caller's.

        A job may run on a session it was lent (the scheduler's): it must hand it back
        with the type it found, or every later job on it would silently change type.
        """
        restore = self.market_data_type
        if restore != kind:
            self.set_market_data_type(kind)
        try:
            yield
        finally:
            if restore != kind and self.is_connected():
                self.set_market_data_type(restore)

    # --- requests -------------------------------------------------------------------------
    async def request(self, awaitable: Awaitable[T], what: str, timeout: float | None = None) -> T:
        """Await one IB request with a timeout; a dropped socket becomes IBDisconnected."""
        limit = timeout if timeout is not None else self.cfg.request_timeout_sec
        try:
            return await asyncio.wait_for(awaitable, limit)
        except TimeoutError:
            raise IBTimeout(f"{what}: no answer from IB within {limit:g} s") from None
        except ConnectionError as exc:
            raise IBDisconnected(f"{what}: connection to IB lost ({exc})") from None

    # --- the message budget the library's throttle already spent -------------------------
    def recent_send_times(self) -> list[float]:
        """Loop times of the messages the client sent in the last window (its own log)."""
        times = getattr(self.ib.client, "_timeQ", ())
        return list(times)

    async def drain_outgoing(self, timeout: float = 30.0) -> None:
        """Wait until the library's throttle queue is empty (all earlier messages are out)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while getattr(self.ib.client, "_msgQ", None) and loop.time() < deadline:
            await asyncio.sleep(0.02)

    # --- errors -----------------------------------------------------------------------------
    def add_error_listener(self, listener: ErrorListener) -> None:
        self._listeners.append(listener)

    def remove_error_listener(self, listener: ErrorListener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _on_error(self, req_id: int, code: int, message: str, contract: Any = None) -> None:
        kind = classify(code, message)
        if kind is ErrorKind.CLIENT_ID_IN_USE:
            self._client_id_in_use.set()
        conid = int(getattr(contract, "conId", 0) or 0)
        event = IBErrorEvent(req_id, code, message, kind, conid)
        for listener in list(self._listeners):
            listener(event)


class _ClientIdInUse(Exception):
    pass
