"""Fixtures of the MCP tests: a synthetic store on fixed dates and real stdio client sessions."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from mcp.client.stdio import StdioServerParameters

from scripts.bench.synthetic_store import Shape, build_store
from tests.support.clock import STORE_END
from tests.support.mcp_client import SYMBOLS, McpSession


@pytest.fixture(scope="session")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 sessions x 4 underlyings, every slot, with one of each planted fault on the newest session."""
    root = tmp_path_factory.mktemp("store")
    return build_store(
        root,
        sessions=3,
        symbols=SYMBOLS,
        shape=Shape(expiries=4, strikes=10),
        faults=True,
        end=STORE_END,
    )


@pytest.fixture(scope="module")
def session_factory() -> Iterator[Callable[[StdioServerParameters], McpSession]]:
    sessions: list[McpSession] = []

    def start(params: StdioServerParameters) -> McpSession:
        s = McpSession(params)
        sessions.append(s)
        return s

    yield start
    for s in sessions:
        s.close()
