"""Discovery tools: what is stored, so an agent's next call names things that exist."""

from typing import Annotated

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from mcp_server.models import (
    Cursor,
    DateArg,
    Meta,
    OptionalView,
    PartitionInfo,
    Reply,
    SlotArg,
    Symbol,
    Table,
    View,
    ViewArg,
    limit_arg,
)
from mcp_server.tooling import READ_ONLY, run_query
from shared.queries.context import ServerContext


class UnderlyingsReply(Reply):
    views: list[str] = Field(description="Views covered.")
    underlyings_stored: int
    underlyings: Table = Field(
        description="Per (underlying, view): first_date, last_date, sessions, partitions."
    )
    meta: Meta


class SessionsReply(Reply):
    view: str
    symbol: str | None
    sessions: Table = Field(
        description="Per trade date, newest first: slots present (raw views), partitions, rows, "
        "early_close."
    )
    missing_sessions: list[str] | None = Field(
        default=None,
        description="XNYS sessions between the first and last stored date with no data (newest first).",
    )
    meta: Meta


class ExpiriesReply(Reply):
    partition: PartitionInfo
    spot: float | None
    contracts: int
    expiries: Table = Field(
        description="Per (expiry, trading_class): dte, strikes, strike_min, strike_max, calls, puts."
    )
    meta: Meta


def register(server: MCPServer, ctx: ServerContext) -> None:
    lim = ctx.limits

    @server.tool(annotations=READ_ONLY)
    async def list_underlyings(
        view: OptionalView = None,
        limit: limit_arg(lim.underlyings.default, lim.underlyings.maximum) = None,  # type: ignore[valid-type]
        cursor: Cursor = None,
    ) -> UnderlyingsReply:
        """Call this first. Every underlying stored, per view, with its first and last trade date and
        the number of sessions and partitions (from the ledger)."""
        from shared.queries import discovery

        return await run_query(  # type: ignore[no-any-return]
            ctx, discovery.list_underlyings, paged=True, view=view.value if view else None,
            limit=limit,
        )  # fmt: skip

    @server.tool(annotations=READ_ONLY)
    async def list_sessions(
        view: OptionalView = None,
        symbol: Annotated[
            str | None, Field(max_length=64, description="Only this underlying; omitted = all.")
        ] = None,
        start: DateArg = None,
        end: DateArg = None,
        limit: limit_arg(lim.sessions.default, lim.sessions.maximum) = None,  # type: ignore[valid-type]
        cursor: Cursor = None,
    ) -> SessionsReply:
        """Trade dates stored in one view (default daily_clean), newest first, with the slots present
        on each (raw views), partition and row counts, early closes, and the XNYS sessions missing
        between the first and last stored date."""
        from shared.queries import discovery

        return await run_query(  # type: ignore[no-any-return]
            ctx, discovery.list_sessions, paged=True, view=view.value if view else None,
            symbol=symbol, start=start, end=end, limit=limit,
        )  # fmt: skip

    @server.tool(annotations=READ_ONLY)
    async def list_expiries(
        symbol: Symbol,
        date: DateArg = None,
        view: ViewArg = View.daily_clean,
        slot: SlotArg = None,
        limit: limit_arg(lim.rows.default, lim.rows.maximum) = None,  # type: ignore[valid-type]
        cursor: Cursor = None,
    ) -> ExpiriesReply:
        """Expiries of one underlying on one date (and slot), per trading class, with days to expiry,
        the number of strikes and their range, and call/put counts."""
        from shared.queries import discovery

        return await run_query(  # type: ignore[no-any-return]
            ctx, discovery.list_expiries, paged=True, symbol=symbol, day=date, view=view.value,
            slot=slot, limit=limit,
        )  # fmt: skip
