"""The MCP server: tools, resources and the daily-report prompt, with the audit middleware."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.context import Context
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp_types import CallToolResult, InputRequiredResult, TextContent
from pydantic import ValidationError

from mcp_server.audit import AuditLog, AuditMiddleware
from mcp_server.errors import one_line, unknown_arguments_message, validation_message
from mcp_server.tools import register_tools
from shared.queries.context import ServerContext
from shared.queries.results import HARD_REPLY_BYTES, REPLY_BUDGET_BYTES, compact_json

log = logging.getLogger(__name__)

INSTRUCTIONS = (
    "Read-only access to US option-chain data collected from Interactive Brokers. First call "
    "list_underlyings (which symbols exist, first and last dates), then list_sessions (dates and "
    "slots of a view) or list_expiries (expiries and strikes of one underlying on one date). "
    "Dates may be YYYY-MM-DD, today, yesterday, last_session, -N or a weekday name; meta.resolved "
    "says what they meant. health_overview, run_status_overview, list_recent_runs and "
    "get_partition_issues diagnose the collector; get_chain_sample returns rows; get_iv_smile, "
    "get_atm_term_structure, get_put_call_ratios, get_oi_gamma_by_strike, get_chain_change and "
    "get_history_bars analyse one snapshot or two; get_vol_timeseries (a date range) and "
    "get_vol_surface (IV by delta and tenor) give volatility over time and the surface; run_sql "
    "(one read-only SELECT) answers what no tool foresaw. "
    "Tables are {columns, rows}; replies are cut to a byte budget: when meta.truncated is true, "
    "repeat the call with cursor=meta.next_cursor. Units (docs/data-contract.md): iv is annualized "
    "implied volatility as a fraction (0.25 = 25%); delta, gamma, vega (per vol point) and theta "
    "(per day) are IB's model greeks per share; GEX is dollars per 1% move of the underlying; "
    "prices in the contract's currency. Dates and slots (HH:MM) are ET (XNYS sessions); "
    "timestamps are UTC."
)


# What a number means, as docs/data-contract.md states it (the columns table).
UNITS = {
    "iv": "annualized model implied volatility, a fraction (0.25 = 25%)",
    "delta": "model delta per share, -1 ... 1",
    "gamma": "model gamma per share",
    "vega": "model vega per vol point, per share",
    "theta": "model theta per day, per share",
    "gex": "dollars per 1% move of the underlying (gamma x OI x multiplier x spot^2 x 0.01)",
    "prices": "bid, ask, mid, last, strike, und_price in the contract's currency",
    "dates": "trade_date, expiry and date arguments are ET calendar dates (XNYS sessions)",
}


class OptDataServer(MCPServer):
    """MCPServer whose replies are compact and whose errors are one bounded line.

    - the text block of a structured reply is the same JSON as structuredContent, without
      indentation (the SDK's indent=2 text is what made a chain row cost ~720 characters);
    - a bad argument is one line naming the argument, never a pydantic dump or the value;
    - every error text is cut to a bounded length (an oversized tool name included).
    """

    _parameters: dict[str, list[str]] | None = None  # tool -> argument names, once registered

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        await self._refuse_unknown_arguments(name, arguments)
        try:
            result = await super().call_tool(name, arguments, context)
        except UnexpectedToolError:
            raise
        except ToolError as exc:
            cause = exc.__cause__
            if isinstance(cause, ValidationError):
                raise ToolError(validation_message(name[:60], cause)) from cause
            # "Error executing tool NAME: why" (the SDK's wording) -> "NAME: why", the same
            # form as a validation error
            text = str(exc).removeprefix("Error executing tool ")
            raise ToolError(one_line(text)) from cause
        return _compact(name, result)

    async def _refuse_unknown_arguments(self, name: str, arguments: dict[str, Any]) -> None:
        """pydantic ignores arguments a tool does not declare; refused here, by name."""
        if self._parameters is None:
            self._parameters = {
                t.name: list((t.input_schema or {}).get("properties", {}))
                for t in await self.list_tools()
            }
        known = self._parameters.get(name)
        if known is None:  # an unknown tool: the SDK's own error
            return
        unknown = [str(k) for k in arguments if k not in known]
        if unknown:
            raise ToolError(unknown_arguments_message(name, unknown, known))


def _compact(
    name: str, result: CallToolResult | InputRequiredResult
) -> CallToolResult | InputRequiredResult:
    if (
        not isinstance(result, CallToolResult)
        or result.is_error
        or result.structured_content is None
    ):
        return result
    first = result.content[0] if result.content else None
    if isinstance(first, TextContent) and not first.text.startswith("{\n"):
        text = first.text  # built compact by tooling.run_query
    else:  # a reply model the SDK dumped with indent=2
        text = compact_json(result.structured_content)
    if len(text) > HARD_REPLY_BYTES:
        log.error(
            "%s built a %d-byte reply, over the %d-byte cap", name, len(text), HARD_REPLY_BYTES
        )
        raise ToolError(f"the reply is over {HARD_REPLY_BYTES} bytes: ask for fewer rows or fields")
    if text is not getattr(first, "text", None):
        others = [b for b in result.content if not isinstance(b, TextContent)]
        result = result.model_copy(
            update={"content": [TextContent(type="text", text=text), *others]}
        )
    return result


class ToolsOnFirstUse:
    """Middleware registering the tools when the first request other than `initialize`
    arrives: building their argument models and schemas is work `initialize` need not wait
    for (see docs/benchmarks.md, start-up)."""

    def __init__(self, ctx: ServerContext) -> None:
        self.server: MCPServer | None = None  # set once built; None again when registered
        self.ctx = ctx

    async def __call__(self, ctx: Any, call_next: Any) -> Any:
        if self.server is not None and ctx.method not in ("initialize", "ping"):
            register_tools(self.server, self.ctx)
            self.server = None
        return await call_next(ctx)


def warm_up() -> None:
    """Import what the first query needs (polars, pyarrow, the XNYS calendar) off the
    request path: started once `initialize` has been answered, so start-up stays fast."""

    def work() -> None:
        try:
            import polars  # noqa: F401
            import pyarrow.parquet  # noqa: F401

            from shared.due import recent_sessions

            recent_sessions(2)
        except Exception:  # a failed warm-up only means the first call imports instead
            log.exception("warm-up failed")

    threading.Thread(target=work, name="warm-up", daemon=True).start()


def build_server(ctx: ServerContext, audit: AuditLog, log_level: str = "INFO") -> MCPServer:
    @asynccontextmanager
    async def lifespan(_: MCPServer) -> AsyncIterator[None]:
        await audit.open()
        try:
            yield
        finally:
            await audit.close()

    tools = ToolsOnFirstUse(ctx)
    server = OptDataServer(
        "opt-data",
        instructions=INSTRUCTIONS,
        version="0.1.0",
        lifespan=lifespan,
        log_level=log_level,  # type: ignore[arg-type]
        middleware=[AuditMiddleware(audit, on_initialized=warm_up), tools],
    )
    tools.server = server
    register_resources(server, ctx)
    return server


def data_contract(ctx: ServerContext) -> dict[str, Any]:
    from shared.schema import ALL_FLAGS, ROLLUP_STRATEGIES, schema_for_view

    def columns(view: str) -> list[dict[str, Any]]:
        return [
            {"name": f.name, "type": str(f.type), "nullable": f.nullable}
            for f in schema_for_view(view)
        ]

    return {
        "layout": {
            "intraday": "raw/ib/chain/view=intraday/date=YYYY-MM-DD/underlying=SYM/slot=HHMM.parquet",
            "close": "raw/ib/chain/view=close/date=YYYY-MM-DD/underlying=SYM/slot=HHMM.parquet",
            "daily_clean": "clean/ib/chain/view=daily_clean/date=YYYY-MM-DD/underlying=SYM/part.parquet",
            "compacted": "after `opt-data compact`, a raw view's slot files of one date and "
            "underlying are merged into underlying=SYM/compacted.parquet (column `slot`); "
            "a slot file next to it is newer and wins",
        },
        "keys": {
            "snapshot views": ["trade_date", "sample_time", "conid"],
            "daily_clean": ["trade_date", "conid"],
        },
        "columns": {"snapshot": columns("intraday"), "daily_clean": columns("daily_clean")},
        "data_quality_flags": list(ALL_FLAGS),
        "rollup_strategies": list(ROLLUP_STRATEGIES),
        "timestamps": "UTC timestamp[us]; slot is the ET label HH:MM",
        "units": UNITS,
        "readable_views": list(ctx.access.allowed_views()),
        "universe": {"intraday": len(ctx.universe_intraday), "close": len(ctx.universe_close)},
    }


def every_limit(ctx: ServerContext) -> dict[str, Any]:
    """The configured caps plus those the time-series and SQL tools own, and the reply budget."""
    from mcp_server.sql import SQL_ROWS
    from mcp_server.sql.guard import MAX_SQL_CHARS
    from shared.queries.results import TABLE_BUDGET_BYTES
    from shared.queries.timeseries import ROWS, SESSIONS

    return {
        **ctx.limits.as_dict(),
        "get_vol_timeseries.limit": ROWS.describe(),
        "get_vol_timeseries.sessions": SESSIONS.describe(),
        "run_sql.limit": SQL_ROWS.describe(),
        "run_sql.max_sql_chars": MAX_SQL_CHARS,
        "reply_table_bytes": TABLE_BUDGET_BYTES,
        "reply_max_bytes": REPLY_BUDGET_BYTES,
    }


def register_resources(server: MCPServer, ctx: ServerContext) -> None:
    @server.resource("opt-data://contract", name="data-contract", mime_type="application/json",
                     description="Partition layout, columns and types of every view, flags.")  # fmt: skip
    def contract() -> str:
        return json.dumps(data_contract(ctx), indent=2)

    @server.resource("opt-data://limits", name="server-limits", mime_type="application/json",
                     description="Row and day caps, time limit and readable views of this server.")  # fmt: skip
    def limits() -> str:
        return json.dumps(
            {"limits": every_limit(ctx), "allow_raw": ctx.access.allow_raw,
             "allow_clean": ctx.access.allow_clean, "readable_views": list(ctx.access.allowed_views())},
            indent=2,
        )  # fmt: skip

    @server.prompt(name="daily_health_report", description="Write the day's data-health report.")
    def daily_health_report(date: str = "today") -> str:
        return (
            f"Write the daily health report of the option-chain collector for {date}.\n"
            "1. Call health_overview: report freshness per view (fresh/stale and how far behind), the "
            "session's coverage per view against the expected partitions, the delayed-data ratio, greeks "
            "fill, and the latest selfcheck and logscan results.\n"
            "2. Call run_status_overview (days=3): list tasks whose latest run is failed, partial or missed, "
            "with their error.\n"
            "3. Call get_partition_issues (days=1): summarise issue counts by kind and name the worst "
            "underlyings and slots.\n"
            "Thresholds (from the runbook): slot coverage >= 90%, rollup fallback <= 5%, delayed ratio "
            "< 10%, OI fill >= 95%. End with PASS or FAIL and the actions to take (re-run a slot with "
            "`opt-data snapshot --slot HH:MM`, re-run rollup, wait for enrichment)."
        )
