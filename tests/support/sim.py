"""Simulator test helpers: a pinned mid-session clock, an ib_async client, error capture."""

from __future__ import annotations

import asyncio
from datetime import datetime

from ib_async import IB

from shared.calendar import ET

SIM_SESSION_TIME = datetime(2026, 11, 18, 11, 0, tzinfo=ET)  # a Wednesday, mid-session


async def sim_connect(port: int, client_id: int = 11) -> IB:
    ib = IB()
    await ib.connectAsync("127.0.0.1", port, clientId=client_id, readonly=True, timeout=5)
    return ib


class SimErrors:
    """Collects (reqId, code) of every error the client receives."""

    def __init__(self, ib: IB) -> None:
        self.seen: list[tuple[int, int]] = []
        ib.errorEvent += self._on_error

    def _on_error(self, req_id: int, code: int, text: str, contract: object) -> None:
        self.seen.append((req_id, code))

    def codes(self) -> list[int]:
        return [code for _, code in self.seen]


async def sim_wait(predicate, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    """Poll until predicate() is true; fail the test (never hang) after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)
