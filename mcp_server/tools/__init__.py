"""The tools, by group; each group module has a `register(server, ctx)`.

A new group (its own typed parameters, reply models and query functions) is one module
here and one entry in GROUPS.
"""

from __future__ import annotations

import importlib

from mcp.server.mcpserver import MCPServer

from shared.queries.context import ServerContext

# Listed in the order an agent should meet them (tools/list keeps registration order).
GROUPS = ("discovery", "status", "chain", "analysis", "volatility", "sql")


def register_tools(server: MCPServer, ctx: ServerContext) -> None:
    for name in GROUPS:
        importlib.import_module(f"mcp_server.tools.{name}").register(server, ctx)
