"""run_sql: one read-only SELECT over the stored views, in a sandboxed in-process DuckDB."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from mcp_server.audit import CURRENT_CALL
from mcp_server.models import Cursor, Meta, Reply
from mcp_server.sql.guard import MAX_SQL_CHARS
from mcp_server.tooling import READ_ONLY, run_query
from shared.queries.context import ServerContext


class SqlReply(Reply):
    columns: list[str] = Field(description="Column names, in the order of each row's values.")
    types: list[str] = Field(description="DuckDB type of each column.")
    rows: list[list[Any]] = Field(description="One array per row; dates ISO text, NaN as null.")
    meta: Meta


def register(server: MCPServer, ctx: ServerContext) -> None:
    @server.tool(annotations=READ_ONLY)
    async def run_sql(
        sql: Annotated[
            str,
            Field(
                max_length=MAX_SQL_CHARS,
                description="One SELECT (DuckDB SQL) over the views intraday, close, daily_clean, "
                "history, streaming (whole history: slow on many files), or the fast table macros "
                "daily_clean_on(date, underlying), intraday_on, close_on, streaming_on (globs "
                "allowed, e.g. intraday_on('2026-11-*', 'SPY')). Add ORDER BY when paging.",
            ),
        ],
        limit: Annotated[
            int | None, Field(description="Maximum rows (default 200, clamped to 1-5000).")
        ] = None,
        cursor: Cursor = None,
    ) -> SqlReply:
        """Read-only SQL for questions no other tool answers: one SELECT, checked by DuckDB's parser,
        run in an in-process DuckDB that reads only the stored views of the data root (no other
        file, no network, no settings), stopped at the time limit, rows capped (meta.truncated,
        meta.next_cursor). Compacted days count once: a slot file supersedes its compacted copy."""
        from mcp_server.sql import run_sql as run

        record = CURRENT_CALL.get()
        if record is not None:
            record.statement = sql  # the audit row keeps the whole statement
        return await run_query(ctx, run, paged=True, sql=sql, limit=limit)  # type: ignore[no-any-return]
