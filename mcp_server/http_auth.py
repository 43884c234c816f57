"""Streamable HTTP that can leave localhost safely: a bearer token, and no open non-loopback bind.

The token comes from `mcp.http_token` in the config or the environment variable
OPT_DATA_MCP_TOKEN (shared.config applies it). Every HTTP request must carry
`Authorization: Bearer <token>` (RFC 6750), compared in constant time; anything else is a
401 with `WWW-Authenticate: Bearer` and nothing reaches the MCP app. Without a token the
server binds only loopback addresses (127.0.0.0/8, ::1, localhost).
"""

from __future__ import annotations

import hmac
import json
import socket
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from shared.binding import MIN_TOKEN_CHARS, is_loopback

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class BindRefused(ValueError):
    """The HTTP settings are unsafe; the message is one line for the operator."""


def check_bind(host: str, token: str | None) -> str | None:
    """The token to require (None: no auth, loopback only), or BindRefused."""
    if token is not None and not token.strip():
        token = None
    if token is not None and len(token) < MIN_TOKEN_CHARS:
        raise BindRefused(
            f"the MCP HTTP token is {len(token)} characters; use at least {MIN_TOKEN_CHARS}"
        )
    if token is None and not is_loopback(host):
        raise BindRefused(
            f"refusing to serve HTTP on {host} without a token: set OPT_DATA_MCP_TOKEN (or "
            "mcp.http_token), or bind 127.0.0.1"
        )
    return token


class BearerAuth:
    """ASGI middleware: HTTP requests need the bearer token; lifespan events pass through."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        given = b""
        for name, value in scope.get("headers") or []:
            if name.lower() == b"authorization":
                given = bytes(value)
                break
        if not hmac.compare_digest(given, self._expected):
            await _unauthorized(send, "missing bearer token" if not given else "invalid token")
            return
        await self.app(scope, receive, send)


async def _unauthorized(send: Send, reason: str) -> None:
    body = json.dumps({"error": "unauthorized", "error_description": reason}).encode()
    await send({
        "type": "http.response.start", "status": 401,
        "headers": [(b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", b'Bearer realm="opt-data"')],
    })  # fmt: skip
    await send({"type": "http.response.body", "body": body})


def serve_http(
    server: Any, sock: socket.socket, host: str, token: str | None, log_level: str
) -> None:
    """Run the MCP server's streamable HTTP app under uvicorn on the socket already bound
    (mcp_server/cli.py binds it before announcing it), behind BearerAuth when a token is set."""
    import anyio
    import uvicorn

    app: ASGIApp = server.streamable_http_app(host=host)
    if token is not None:
        app = BearerAuth(app, token)
    config = uvicorn.Config(app, log_level=log_level.lower())
    anyio.run(lambda: uvicorn.Server(config).serve(sockets=[sock]))
