"""Streamable HTTP with a bearer token: the real server on 127.0.0.1, the SDK's HTTP client.

Without the token every request is a 401 and no tool runs; with it, tools answer. Binding
a non-loopback address without a token is refused before anything is opened.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from mcp_server.http_auth import BearerAuth, BindRefused, check_bind, is_loopback
from scripts.bench.synthetic_store import Shape, build_store
from tests.support.clock import STORE_END, pinned_env
from tests.support.mcp_client import audit_rows

TOKEN = "t0ken-for-the-http-test-3f9a1c"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def http_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    config = build_store(tmp_path_factory.mktemp("http"), sessions=1, symbols=2, end=STORE_END,
                         shape=Shape(expiries=2, strikes=4, intraday_slots=("10:00",)))  # fmt: skip
    port = free_port()
    env = {**os.environ, **pinned_env(), "OPT_DATA_MCP_TOKEN": TOKEN}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mcp_server", "--config", str(config), "--transport",
         "streamable-http", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            time.sleep(0.1)
    try:
        yield f"http://127.0.0.1:{port}/mcp", config.parent.parent
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        if proc.stderr:
            proc.stderr.close()


async def test_no_token_is_401_and_runs_nothing(http_server: tuple[str, Path]) -> None:
    url, root = http_server
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "health_overview", "arguments": {}}}  # fmt: skip
    async with httpx2.AsyncClient() as http:
        for headers in ({}, {"Authorization": "Bearer wrong-token-of-enough-length"},
                        {"Authorization": TOKEN}):  # fmt: skip
            r = await http.post(url, json=body, headers=headers)
            assert r.status_code == 401
            assert r.headers["www-authenticate"].startswith("Bearer")
    audit = root / "state" / "run_logs" / "mcp_audit.db"
    assert not audit.exists() or audit_rows(audit) == []  # nothing reached the tools


async def test_sdk_client_without_token_fails(http_server: tuple[str, Path]) -> None:
    url, _ = http_server
    with pytest.raises(Exception) as info:  # the SDK error type varies by phase
        async with Client(url, read_timeout_seconds=10) as client:
            await client.list_tools()
    # The SDK reports the 401 as an error response of the initialize request.
    assert "error response" in repr(info.value)


async def test_sdk_client_with_token_answers(http_server: tuple[str, Path]) -> None:
    url, _ = http_server
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {TOKEN}"})
    async with http, Client(streamable_http_client(url, http_client=http)) as client:
        tools = {t.name for t in (await client.list_tools()).tools}
        assert "health_overview" in tools
        result = await client.call_tool("health_overview", {})
        assert not result.is_error
        assert result.structured_content and "meta" in result.structured_content


def test_non_loopback_bind_without_token_is_refused(tmp_path: Path) -> None:
    config = build_store(tmp_path, sessions=1, symbols=1, end=STORE_END,
                         shape=Shape(expiries=1, strikes=2, intraday_slots=("10:00",)))  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "OPT_DATA_MCP_TOKEN"}
    run = subprocess.run(
        [sys.executable, "-m", "mcp_server", "--config", str(config), "--transport",
         "streamable-http", "--host", "0.0.0.0", "--port", str(free_port())],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and "without a token" in run.stderr


def test_a_port_in_use_is_one_line_and_exit_1(tmp_path: Path) -> None:
    """Was: the server announced itself, then uvicorn's log and exit 3."""
    config = build_store(tmp_path, sessions=1, symbols=1, end=STORE_END,
                         shape=Shape(expiries=1, strikes=2, intraday_slots=("10:00",)))  # fmt: skip
    with socket.create_server(("127.0.0.1", 0)) as held:
        port = held.getsockname()[1]
        run = subprocess.run(
            [sys.executable, "-m", "mcp_server", "--config", str(config), "--transport",
             "streamable-http", "--host", "127.0.0.1", "--port", str(port)],
            env={**os.environ, "OPT_DATA_MCP_TOKEN": TOKEN}, capture_output=True, text=True,
            timeout=60,
        )  # fmt: skip
    assert run.returncode == 1, run.stderr
    assert (
        run.stderr
        == f"opt-data mcp-server: error: cannot listen on 127.0.0.1:{port}: address in use\n"
    )


def test_bind_rules() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("127.8.0.2") and is_loopback("::1")
    assert is_loopback("[::1]") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("::") and not is_loopback("example")
    assert check_bind("127.0.0.1", None) is None and check_bind("127.0.0.1", "  ") is None
    assert check_bind("0.0.0.0", TOKEN) == TOKEN
    for host, token in (("0.0.0.0", None), ("10.1.2.3", ""), ("0.0.0.0", "short")):
        with pytest.raises(BindRefused):
            check_bind(host, token)


async def test_middleware_passes_lifespan_and_checks_every_request() -> None:
    seen: list[str] = []

    async def app(scope: dict, receive: object, send: object) -> None:  # type: ignore[type-arg]
        seen.append(scope["type"])

    sent: list[dict] = []  # type: ignore[type-arg]

    async def send(message: dict) -> None:  # type: ignore[type-arg]
        sent.append(message)

    async def receive() -> dict:  # type: ignore[type-arg]
        return {}

    guard = BearerAuth(app, TOKEN)  # type: ignore[arg-type]
    await guard({"type": "lifespan"}, receive, send)
    await guard({"type": "http", "headers": [(b"authorization", f"Bearer {TOKEN}".encode())]},
                receive, send)  # fmt: skip
    await guard({"type": "http", "headers": [(b"authorization", b"Bearer x")]}, receive, send)
    assert seen == ["lifespan", "http"]
    assert sent[0]["status"] == 401
