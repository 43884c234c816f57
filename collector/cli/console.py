"""`opt-data console`: the operator web console (Overview, Operations, History, Audit).

Binds 127.0.0.1 unless told otherwise; any other address needs a token (console.token or
OPT_DATA_CONSOLE_TOKEN), because the console starts collector jobs and shows the data.
"""

from __future__ import annotations

import socket
from pathlib import Path

import typer

from collector.cli.common import (
    EXIT_FAILURE,
    EXIT_USAGE,
    ConfigOption,
    fail,
    load_cfg,
    setup_logging,
)
from shared.binding import MIN_TOKEN_CHARS, ListenError, is_loopback
from shared.binding import listen as bind_socket


def bind_token(host: str, token: str | None) -> str | None:
    """The token to require, or a one-line refusal (exit 2) when the bind is unsafe."""
    token = token.strip() if token and token.strip() else None
    if token is not None and len(token) < MIN_TOKEN_CHARS:
        fail(f"the console token is {len(token)} characters; use at least {MIN_TOKEN_CHARS}")
    if token is None and not is_loopback(host):
        fail(f"refusing to serve the console on {host} without a token: set "
             "OPT_DATA_CONSOLE_TOKEN (or console.token), or bind 127.0.0.1")  # fmt: skip
    return token


def console(
    config: Path = ConfigOption,
    host: str | None = typer.Option(
        None, "--host", help="Bind address (default console.host, 127.0.0.1)."
    ),
    port: int | None = typer.Option(None, "--port", help="Port (default console.port, 8501)."),
    read_only: bool = typer.Option(False, "--read-only", help="Switch Operations off."),
    log_level: str = typer.Option("WARNING", "--log-level", help="DEBUG, INFO, WARNING, ERROR."),
) -> None:
    """Serve the web console on 127.0.0.1 (see docs/console.md)."""
    setup_logging(log_level)
    cfg = load_cfg(config)
    bind = host or cfg.console.host
    secret = cfg.console.token.get_secret_value() if cfg.console.token else None
    token = bind_token(bind, secret)
    import uvicorn

    from collector.console.app import build_app

    at = port or cfg.console.port
    if not 1 <= at <= 65535:
        fail(f"--port must be 1-65535, got {at}")
    sock = listen(bind, at)
    app = build_app(cfg, read_only=read_only or cfg.console.read_only, token=token)
    typer.echo(f"opt-data console on http://{bind}:{at}/", err=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level=log_level.lower(), access_log=False))
    server.run(sockets=[sock])


def listen(host: str, port: int) -> socket.socket:
    """A port in use is exit 1 (a console already running, say), a bad address exit 2."""
    try:
        return bind_socket(host, port)
    except ListenError as exc:
        fail(str(exc), code=EXIT_FAILURE if exc.in_use else EXIT_USAGE)


def register(app: typer.Typer) -> None:
    app.command("console")(console)
