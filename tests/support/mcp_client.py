"""A real MCP client session over stdio (or HTTP), driven from synchronous tests.

The client runs in its own thread and event loop, so one server process serves every
test of a module while the tests themselves stay plain synchronous functions.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
import threading
from collections.abc import Callable, Coroutine
from datetime import datetime
from pathlib import Path
from typing import Any

from mcp import Client
from mcp.client.stdio import StdioServerParameters

from tests.support.clock import SERVER_NOW, pinned_env

BIN = Path(sys.executable).parent
SYMBOLS = ["AAPL", "MSFT", "SPY", "QQQ"]


class McpSession:
    """One server subprocess and one connected client, driven from synchronous tests."""

    def __init__(self, params: StdioServerParameters | str) -> None:
        self.params = params
        self.calls = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._stop: asyncio.Event | None = None
        self._ready: asyncio.Future[Client] = self._loop.create_future()
        self._main = asyncio.run_coroutine_threadsafe(self._serve(), self._loop)
        self.client: Client = self._wait(self._ready_future())

    async def _ready_future(self) -> Client:
        return await self._ready

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        try:
            async with Client(self.params, read_timeout_seconds=60) as client:
                self._ready.set_result(client)
                await self._stop.wait()
        except BaseException as exc:
            if not self._ready.done():
                self._ready.set_exception(exc)
            raise

    def _wait(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=120)

    def run(self, fn: Callable[[Client], Coroutine[Any, Any, Any]]) -> Any:
        async def go() -> Any:
            return await fn(self.client)

        return self._wait(go())

    def call(self, tool: str, args: dict[str, Any] | None = None) -> tuple[bool, Any]:
        """(is_error, parsed JSON of a result | the error text)."""
        self.calls += 1
        result = self.run(lambda c: c.call_tool(tool, args or {}))
        text = "".join(getattr(block, "text", "") for block in result.content)
        if result.is_error:
            return True, text
        assert result.structured_content is not None, f"{tool} returned no structured content"
        assert json.loads(text) == result.structured_content
        return False, result.structured_content

    def ok(self, tool: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
        is_error, payload = self.call(tool, args)
        assert not is_error, f"{tool}({args}) failed: {payload}"
        assert "meta" in payload and {"limit", "clamped", "source"} <= payload["meta"].keys()
        return payload

    def error(self, tool: str, args: dict[str, Any] | None = None) -> str:
        is_error, payload = self.call(tool, args)
        assert is_error, f"{tool}({args}) should have failed, got {str(payload)[:300]}"
        assert "Traceback" not in payload
        return payload

    def close(self) -> None:
        if self._loop.is_closed():
            return
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._main.result(timeout=60)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


def server_params(
    config: Path, *flags: str, entry: str = "module", now: datetime = SERVER_NOW
) -> StdioServerParameters:
    """`python -m mcp_server ...` or `opt-data mcp-server ...` (the installed console script),
    its calendar pinned at `now`."""
    if entry == "module":
        return StdioServerParameters(
            command=sys.executable,
            args=["-m", "mcp_server", "--config", str(config), *flags],
            env=pinned_env(now),
        )
    return StdioServerParameters(
        command=str(BIN / "opt-data"),
        args=["mcp-server", "--config", str(config), *flags],
        env=pinned_env(now),
    )


def records(table: dict[str, Any]) -> list[dict[str, Any]]:
    """A reply's {columns, rows} table as one dict per row."""
    return [dict(zip(table["columns"], row, strict=True)) for row in table["rows"]]


def audit_rows(db: Path) -> list[dict[str, Any]]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in con.execute("SELECT * FROM calls ORDER BY id")]
    finally:
        con.close()
