"""Read-only SQL over the stored views: the run_sql tool's guard, views and sandbox."""

from __future__ import annotations

from typing import Any

from shared.queries.context import ServerContext
from shared.queries.limits import Cap, Meta, clamp
from shared.queries.paths import QueryError
from shared.queries.results import Page, records_table

SQL_ROWS = Cap("limit", 200, 5000)
MAX_OFFSET = 50_000  # a cursor past this many rows: filter or aggregate instead


def run_sql(
    ctx: ServerContext, sql: str, limit: int | None = None, page: Page | None = None
) -> dict[str, Any]:
    """One SELECT over the stored views: rows [offset, offset + limit) within the reply budget.

    A cursor re-runs the statement and skips the rows already sent, so pages are stable
    only when the statement has an ORDER BY (the tool's description says so).
    """
    from mcp_server.sql.sandbox import Sandbox  # duckdb loads on the first SQL call only

    meta = Meta()
    n = meta.apply(clamp(SQL_ROWS, limit))
    page = page or Page()
    if page.offset > MAX_OFFSET:
        raise QueryError(
            f"cursor offset {page.offset} is past {MAX_OFFSET} rows: filter or aggregate"
        )
    acc = ctx.access
    sandbox = Sandbox.for_access(acc.layout, allow_raw=acc.allow_raw, allow_clean=acc.allow_clean)
    # Stop inside DuckDB a little before the tool's own limit gives up waiting.
    timeout = max(0.5, ctx.limits.query_timeout_sec - 0.5)
    result = sandbox.run(sql, page.offset + n, timeout)
    records = [dict(zip(result.columns, row, strict=True)) for row in result.rows]
    out = records_table(records, meta, n, page)
    out["columns"] = result.columns  # also when no row came back
    if result.truncated and not meta.truncated:
        meta.truncated = True
        meta.next_cursor = page.cursor_at(page.offset + len(out["rows"]))
    meta.extra["total_rows"] = None if result.truncated else len(records)
    meta.extra["elapsed_ms"] = result.elapsed_ms
    meta.add_source("duckdb: " + ", ".join(sorted(sandbox.views)) if sandbox.views else "duckdb")
    return {"columns": result.columns, "types": result.types, "rows": out["rows"],
            "meta": meta.as_dict()}  # fmt: skip
