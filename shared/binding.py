"""Who may reach a server we start: the rule the MCP HTTP transport and the console share.

A loopback bind needs no secret; any other address (a host name, 0.0.0.0, a LAN address)
is reachable from outside and must be guarded by a token of at least MIN_TOKEN_CHARS.
"""

from __future__ import annotations

import errno
import ipaddress
import socket

MIN_TOKEN_CHARS = 16


def is_loopback(host: str) -> bool:
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # a host name or a wildcard such as 0.0.0.0: reachable from outside


class ListenError(OSError):
    """The server's address cannot be bound; `in_use` when another process holds it."""

    def __init__(self, message: str, in_use: bool) -> None:
        super().__init__(message)
        self.in_use = in_use


def listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound before a server says where it serves, so that a port in
    use (a server already running, say) is one line from the command, not uvicorn's log
    and exit 3 after the address was announced as if serving."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        return socket.create_server((host, port), family=family)
    except socket.gaierror as exc:
        raise ListenError(f"cannot listen on {host}:{port}: {exc.strerror}", False) from None
    except OSError as exc:
        in_use = exc.errno == errno.EADDRINUSE
        why = "address in use" if in_use else (exc.strerror or str(exc))
        raise ListenError(f"cannot listen on {host}:{port}: {why}", in_use) from None
