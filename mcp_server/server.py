"""The MCP server: tools, resources and the daily-report prompt, with the audit middleware."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from mcp.server.mcpserver import MCPServer

from mcp_server.audit import AuditLog, AuditMiddleware
from mcp_server.context import ServerContext
from mcp_server.tools import register_tools, register_vol_tools
from shared.schema import ALL_FLAGS, ROLLUP_STRATEGIES, schema_for_view

INSTRUCTIONS = (
    "Read-only access to US option-chain data collected from Interactive Brokers. Start with "
    "health_overview; use get_partition_issues and run_status_overview to diagnose gaps; "
    "get_chain_sample for rows; get_iv_smile, get_atm_term_structure, get_put_call_ratios, "
    "get_oi_gamma_by_strike and get_chain_change for analysis. Every reply has meta "
    "{limit, clamped, source, rows, truncated}; results are capped, never complete dumps."
)


def build_server(ctx: ServerContext, audit: AuditLog, log_level: str = "INFO") -> MCPServer:
    @asynccontextmanager
    async def lifespan(_: MCPServer) -> AsyncIterator[None]:
        await audit.open()
        try:
            yield
        finally:
            await audit.close()

    server: MCPServer = MCPServer(
        "opt-data",
        instructions=INSTRUCTIONS,
        version="0.1.0",
        lifespan=lifespan,
        log_level=log_level,  # type: ignore[arg-type]
        middleware=[AuditMiddleware(audit)],
    )
    register_tools(server, ctx)
    register_vol_tools(server, ctx)
    register_resources(server, ctx)
    return server


def data_contract(ctx: ServerContext) -> dict[str, Any]:
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
        "readable_views": list(ctx.access.allowed_views()),
        "universe": {"intraday": len(ctx.universe_intraday), "close": len(ctx.universe_close)},
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
            {"limits": ctx.limits.as_dict(), "allow_raw": ctx.access.allow_raw,
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
