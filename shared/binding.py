"""Who may reach a server we start: the rule the MCP HTTP transport and the console share.

A loopback bind needs no secret; any other address (a host name, 0.0.0.0, a LAN address)
is reachable from outside and must be guarded by a token of at least MIN_TOKEN_CHARS.
"""

from __future__ import annotations

import ipaddress

MIN_TOKEN_CHARS = 16


def is_loopback(host: str) -> bool:
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # a host name or a wildcard such as 0.0.0.0: reachable from outside
