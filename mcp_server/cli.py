"""`opt-data mcp-server` / `opt-data-mcp`: start the read-only MCP server (stdio by default).

Bad input (config, flags) is one line on stderr and exit code 2, before anything is opened.
Logs go to stderr only: on stdio, stdout carries the protocol.
"""

from __future__ import annotations

import argparse
import logging
import sqlite3
import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from shared.config import ConfigError, load_config

if TYPE_CHECKING:
    from shared.storage import Layout

EXIT_USAGE = 2
EXIT_FAILURE = 1
PROG = "opt-data mcp-server"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        fail(message)


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    print(f"{PROG}: error: {message}", file=sys.stderr, flush=True)
    raise SystemExit(code)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description="Serve the collected option-chain data read-only over MCP.")
    p.add_argument(
        "--config", "-c", type=Path, default=Path("config/opt-data.toml"), help="config TOML file"
    )
    p.add_argument(
        "--allow-raw", action=argparse.BooleanOptionalAction, default=None,
        help="serve the raw views intraday and close (default: mcp.allow_raw, off)",
    )  # fmt: skip
    p.add_argument(
        "--allow-clean", action=argparse.BooleanOptionalAction, default=None,
        help="serve the daily_clean view (default: mcp.allow_clean, on)",
    )  # fmt: skip
    p.add_argument("--audit-db", type=Path, default=None, help="audit DB (default: mcp.audit_db)")
    p.add_argument(
        "--log-level",
        default="INFO",
        type=str.upper,
        choices=["INFO", "DEBUG"],
        help="stderr log level",
    )
    p.add_argument(
        "--transport", default="stdio", choices=["stdio", "streamable-http"], help="MCP transport"
    )
    p.add_argument(
        "--host", default="127.0.0.1",
        help="bind address for streamable-http (non-loopback needs OPT_DATA_MCP_TOKEN / mcp.http_token)",
    )  # fmt: skip
    p.add_argument("--port", type=int, default=8765, help="port for streamable-http")
    return p


def check_audit_db(path: Path) -> None:
    """The audit DB must be writable before the first call arrives (it is the only write)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        sqlite3.connect(path).close()
    except (OSError, sqlite3.Error) as exc:
        fail(f"cannot open the audit DB {path}: {exc}")


def check_data_root(layout: Layout) -> None:
    """An object-store root answers one request before the server starts (missing bucket,
    no credentials, unreachable endpoint: one line, exit 2); a local root is not touched."""
    from shared.datafs import DataRootError, is_local, probe

    if is_local(layout.raw) and is_local(layout.clean):
        return

    try:
        for root in (layout.raw, layout.clean):
            probe(root)
    except DataRootError as exc:
        fail(str(exc))


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    if not 1 <= args.port <= 65535:
        fail(f"--port must be 1-65535, got {args.port}")
    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        fail(str(exc))
    token = None
    if args.transport == "streamable-http":
        from mcp_server.http_auth import BindRefused, check_bind

        secret = cfg.mcp.http_token.get_secret_value() if cfg.mcp.http_token else None
        try:
            token = check_bind(args.host, secret)
        except BindRefused as exc:
            fail(str(exc))
    sock = None
    if args.transport == "streamable-http":
        from shared.binding import ListenError, listen

        try:  # bound before anything is announced: a port in use is one line, exit 1
            sock = listen(args.host, args.port)
        except ListenError as exc:
            fail(str(exc), EXIT_FAILURE if exc.in_use else EXIT_USAGE)
    from shared.storage import Layout

    layout = Layout.from_config(cfg)
    check_data_root(layout)  # before logging is set up: its one line is all stderr shows
    logging.basicConfig(
        level=getattr(logging, args.log_level),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )
    # Imported after argument checks so `--help` and bad flags answer instantly.
    from mcp_server.audit import AuditLog
    from mcp_server.server import build_server
    from shared.queries.context import ServerContext

    allow_raw = cfg.mcp.allow_raw if args.allow_raw is None else args.allow_raw
    allow_clean = cfg.mcp.allow_clean if args.allow_clean is None else args.allow_clean
    audit_path = args.audit_db or cfg.mcp.audit_db
    assert audit_path is not None
    check_audit_db(audit_path)
    ctx = ServerContext.build(cfg, allow_raw=allow_raw, allow_clean=allow_clean, layout=layout)
    server = build_server(ctx, AuditLog(audit_path.resolve()), log_level=args.log_level)
    log = logging.getLogger("mcp_server")
    log.info(
        "opt-data MCP server (%s): data %s, views %s, audit %s",
        args.transport, ctx.layout.data, ",".join(ctx.access.allowed_views()) or "none", audit_path,
    )  # fmt: skip
    if args.transport == "stdio":
        server.run("stdio")
    else:
        from mcp_server.http_auth import serve_http

        log.info("streamable HTTP on %s:%d, bearer token %s", args.host, args.port,
                 "required" if token else "off (loopback only)")  # fmt: skip
        assert sock is not None
        serve_http(server, sock, args.host, token, args.log_level)


if __name__ == "__main__":
    main()
