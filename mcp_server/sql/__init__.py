"""Read-only SQL over the stored views: the run_sql tool's guard, views and sandbox."""

from __future__ import annotations

from typing import Any

from mcp_server.context import ServerContext
from mcp_server.limits import Cap, Meta, clamp

SQL_ROWS = Cap("limit", 200, 5000)


def run_sql(ctx: ServerContext, sql: str, limit: int | None = None) -> dict[str, Any]:
    """One SELECT over the stored views; rows capped, `truncated` when more existed."""
    from mcp_server.sql.sandbox import Sandbox  # duckdb loads on the first SQL call only

    meta = Meta()
    n = meta.apply(clamp(SQL_ROWS, limit))
    acc = ctx.access
    sandbox = Sandbox.for_access(acc.layout, allow_raw=acc.allow_raw, allow_clean=acc.allow_clean)
    # Stop inside DuckDB a little before the tool's own limit gives up waiting.
    timeout = max(0.5, ctx.limits.query_timeout_sec - 0.5)
    result = sandbox.run(sql, n, timeout)
    meta.rows = len(result.rows)
    meta.truncated = result.truncated
    meta.extra["elapsed_ms"] = result.elapsed_ms
    meta.add_source("duckdb: " + ", ".join(sorted(sandbox.views)) if sandbox.views else "duckdb")
    return {
        "columns": result.columns,
        "types": result.types,
        "rows": result.rows,
        "meta": meta.as_dict(),
    }
