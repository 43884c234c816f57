"""The tool framework: annotations, running a query under its time limit, error mapping.

A tool module (mcp_server/tools/<group>.py) declares typed parameters and a reply model,
and its body is one `await run_query(ctx, query_fn, ...)`. Queries are plain functions of
(ctx, **arguments) returning a JSON-ready dict; they run in a worker thread under the
configured time limit. A QueryError becomes the caller's one-line error; anything else a
generic one (the traceback goes to stderr and, bounded, to the audit row).

    @server.tool(annotations=READ_ONLY)
    async def get_thing(symbol: Symbol, limit: limit_arg(100, 1000) = None) -> ThingReply:
        \"\"\"One line an agent reads to choose this tool.\"\"\"
        return await run_query(ctx, thing.get_thing, paged=True, symbol=symbol, limit=limit)

With paged=True the query also receives `page`, a results.Page built from the call's
`cursor` argument, and should build its rows with results.table().

run_query returns a finished CallToolResult (structuredContent = the query's dict, one
compact JSON text block); a tool that adds content, e.g. a chart, appends its block:
`result.model_copy(update={"content": [*result.content, ImageContent(...)]})`.
"""

from __future__ import annotations

import functools
import logging
import traceback
from collections.abc import Callable
from typing import Any

import anyio
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult, TextContent, ToolAnnotations

from mcp_server.audit import CURRENT_CALL
from mcp_server.errors import MAX_DETAIL_CHARS, one_line
from shared.ledger import LedgerError
from shared.queries.context import ServerContext
from shared.queries.paths import QueryError, QueryTimeout
from shared.queries.results import Page, compact_json

log = logging.getLogger(__name__)

READ_ONLY = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)


def _answer(
    fn: Callable[..., dict[str, Any]], ctx: ServerContext, kwargs: dict[str, Any]
) -> CallToolResult:
    """The query's dict as the reply, its compact JSON text built here in the worker thread.

    Handing the SDK a finished CallToolResult spares it a model dump and an indented
    text dump per call; it still validates structuredContent against the outputSchema.
    """
    data = fn(ctx, **kwargs)
    return CallToolResult(
        content=[TextContent(type="text", text=compact_json(data))], structured_content=data
    )


def current_page() -> Page:
    """The page the current call asks for (its `cursor` checked against its other arguments)."""
    record = CURRENT_CALL.get()
    if record is None:
        return Page()
    return Page.start(record.tool, record.arguments)


async def run_query(
    ctx: ServerContext, fn: Callable[..., dict[str, Any]], *, paged: bool = False, **kwargs: Any
) -> Any:
    """Run `fn(ctx, **kwargs)` in a thread under the time limit; map failures to ToolError."""
    record = CURRENT_CALL.get()
    try:
        if paged:
            kwargs["page"] = current_page()
        with anyio.fail_after(ctx.limits.query_timeout_sec):
            return await anyio.to_thread.run_sync(
                functools.partial(_answer, fn, ctx, kwargs), abandon_on_cancel=True
            )
    except QueryError as exc:
        if record:  # refused, or (a time limit inside the query) failed
            record.status = "error" if isinstance(exc, QueryTimeout) else "rejected"
        raise ToolError(one_line(str(exc))) from None
    except LedgerError as exc:  # an unreachable shared ledger: its one line, no credentials
        if record:
            record.status = "error"
        raise ToolError(one_line(str(exc))) from None
    except TimeoutError:
        if record:
            record.status = "error"
        raise ToolError(
            f"the query took longer than {ctx.limits.query_timeout_sec:g} s; narrow it (fewer days, one view, "
            "a smaller limit)"
        ) from None
    except Exception as exc:
        log.exception("tool query %s failed", getattr(fn, "__name__", fn))
        if record:
            record.status = "error"
            record.detail = traceback.format_exc()[-MAX_DETAIL_CHARS:]
        raise ToolError(
            f"internal error ({type(exc).__name__}); the details are in the server log"
        ) from None
