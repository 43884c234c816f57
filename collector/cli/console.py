"""`opt-data console`: the operator web console (Overview, Operations, History, Audit).

Binds 127.0.0.1 unless told otherwise; any other address needs a token (console.token or
OPT_DATA_CONSOLE_TOKEN), because the console starts collector jobs and shows the data.
"""

from __future__ import annotations

import errno
import socket
from pathlib import Path

import typer

from collector.cli.common import EXIT_FAILURE, ConfigOption, fail, load_cfg, setup_logging
from shared.binding import MIN_TOKEN_CHARS, is_loopback


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
    """The listening socket, bound before the console says where it serves: a port in use
    (a console already running, say) is one line and exit 1, not uvicorn's log and exit 3."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        return socket.create_server((host, port), family=family)
    except socket.gaierror as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror}")
    except OSError as exc:
        why = "address in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
        fail(f"cannot listen on {host}:{port}: {why}", code=EXIT_FAILURE)


def register(app: typer.Typer) -> None:
    app.command("console")(console)
