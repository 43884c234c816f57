"""Analysis tools over one partition: smile, ATM term structure, put/call ratios, OI and GEX."""

from typing import Annotated

from mcp.server.mcpserver import MCPServer
from mcp_types import CallToolResult
from pydantic import Field

from mcp_server.models import (
    Cursor,
    DateArg,
    ExpiryArg,
    Meta,
    PartitionInfo,
    Reply,
    SlotArg,
    Symbol,
    Table,
    TradingClassArg,
    View,
    ViewArg,
    limit_arg,
)
from mcp_server.tooling import READ_ONLY, run_query
from mcp_server.tools.chart_reply import Chart, column, title, with_chart
from shared.queries.context import ServerContext


class SmileReply(Reply):
    partition: PartitionInfo
    expiry: str
    trading_classes: list[str] = Field(
        description="Classes listing this expiry, each with its own rows."
    )
    spot: float | None
    expiries: list[str] = Field(description="Every expiry with IV in the partition.")
    points: Table = Field(
        description="Per (trading_class, strike): call/put IV and delta, moneyness K/S, "
        "log-moneyness, OTM IV (puts below spot, calls above)."
    )
    meta: Meta


class TermStructureReply(Reply):
    partition: PartitionInfo
    spot: float
    term_structure: Table = Field(
        description="Per (expiry, trading_class): days to expiry, the strike nearest spot, call, put "
        "and mean ATM IV."
    )
    meta: Meta


class RatioTotals(Reply):
    call_volume: float | None
    put_volume: float | None
    call_open_interest: float | None
    put_open_interest: float | None
    pc_volume_ratio: float | None
    pc_oi_ratio: float | None


class PutCallReply(Reply):
    partition: PartitionInfo
    spot: float | None
    total: RatioTotals
    by_expiry: Table | None = Field(default=None, description="Per (expiry, trading_class).")
    meta: Meta


class GexSummary(Reply):
    total_net_gex: float | None = None
    total_call_oi: float | None = None
    total_put_oi: float | None = None
    max_call_oi_strike: float | None = None
    max_put_oi_strike: float | None = None
    gamma_flip_strike: float | None = Field(
        default=None,
        description="First strike (ascending) where cumulative net GEX changes sign, at today's spot.",
    )
    zero_gamma_spot: float | None = Field(
        default=None,
        description="Spot level where total GEX, re-priced there, crosses zero (nearest crossing).",
    )
    flip_contracts: int | None = None
    flip_search: list[float] | None = Field(default=None, description="Spot range searched.")


class GexReply(Reply):
    partition: PartitionInfo
    spot: float
    expiry: str = Field(description="The expiry analysed, or 'all'.")
    summary: GexSummary
    strikes: Table = Field(
        description="Per strike (classes summed): call/put OI, call/put GEX and net GEX, $ per 1% move."
    )
    meta: Meta


def register(server: MCPServer, ctx: ServerContext) -> None:
    lim = ctx.limits
    Limit = limit_arg(lim.rows.default, lim.rows.maximum)

    @server.tool(annotations=READ_ONLY)
    async def get_iv_smile(
        symbol: Symbol,
        expiry: ExpiryArg = None,
        date: DateArg = None,
        view: ViewArg = View.daily_clean,
        slot: SlotArg = None,
        trading_class: TradingClassArg = None,
        limit: Limit = None,  # type: ignore[valid-type]
        cursor: Cursor = None,
        chart: Chart = False,
    ) -> Annotated[CallToolResult, SmileReply]:
        """Implied-volatility smile of one expiry (default: the nearest): call and put IV and delta per
        strike and trading class, moneyness K/S, and the out-of-the-money IV (puts below spot, calls above)."""
        from shared.queries import analysis

        result = await run_query(
            ctx, analysis.iv_smile, paged=True, symbol=symbol, expiry=expiry, day=date,
            view=view.value, slot=slot, trading_class=trading_class, limit=limit,
        )  # fmt: skip
        if not chart:
            return result  # type: ignore[no-any-return]
        payload = result.structured_content
        from shared.charts import smile_png

        pts = payload["points"]
        ivs = {n: column(pts, n) for n in ("call_iv", "put_iv", "otm_iv") if n in pts["columns"]}
        name = title(payload["partition"], f"smile {payload['expiry']}")
        return await with_chart(
            result, lambda: smile_png(column(pts, "strike"), ivs, payload["spot"], name)
        )

    @server.tool(annotations=READ_ONLY)
    async def get_atm_term_structure(
        symbol: Symbol,
        date: DateArg = None,
        view: ViewArg = View.daily_clean,
        slot: SlotArg = None,
        limit: Limit = None,  # type: ignore[valid-type]
        cursor: Cursor = None,
        chart: Chart = False,
    ) -> Annotated[CallToolResult, TermStructureReply]:
        """At-the-money implied volatility per expiry and trading class (strike nearest spot), with days
        to expiry."""
        from shared.queries import analysis

        result = await run_query(
            ctx, analysis.atm_term_structure, paged=True, symbol=symbol, day=date,
            view=view.value, slot=slot, limit=limit,
        )  # fmt: skip
        if not chart:
            return result  # type: ignore[no-any-return]
        payload = result.structured_content
        from shared.charts import term_structure_png

        ts = payload["term_structure"]
        name = title(payload["partition"], "ATM term structure")
        return await with_chart(
            result, lambda: term_structure_png(column(ts, "dte"), column(ts, "atm_iv"), name)
        )

    @server.tool(annotations=READ_ONLY)
    async def get_put_call_ratios(
        symbol: Symbol,
        date: DateArg = None,
        view: ViewArg = View.daily_clean,
        slot: SlotArg = None,
        by_expiry: Annotated[
            bool, Field(description="Also break the ratios down per expiry and trading class.")
        ] = True,
        limit: Limit = None,  # type: ignore[valid-type]
        cursor: Cursor = None,
    ) -> PutCallReply:
        """Put/call ratios of volume and open interest, in total and per expiry and trading class."""
        from shared.queries import analysis

        return await run_query(  # type: ignore[no-any-return]
            ctx, analysis.put_call_ratios, paged=True, symbol=symbol, day=date, view=view.value,
            slot=slot, by_expiry=by_expiry, limit=limit,
        )  # fmt: skip

    @server.tool(annotations=READ_ONLY)
    async def get_oi_gamma_by_strike(
        symbol: Symbol,
        date: DateArg = None,
        view: ViewArg = View.daily_clean,
        slot: SlotArg = None,
        expiry: ExpiryArg = None,
        limit: Limit = None,  # type: ignore[valid-type]
        cursor: Cursor = None,
        chart: Chart = False,
    ) -> Annotated[CallToolResult, GexReply]:
        """Open interest and gamma exposure (GEX, dollars per 1% move; calls +, puts -) per strike, over
        all expiries or one, with totals, the largest call/put OI strikes, the gamma-flip strike
        (cumulative GEX changes sign) and the zero-gamma spot (where total GEX re-priced at that spot
        is zero). With more strikes than `limit`, the strikes nearest spot are kept."""
        from shared.queries import analysis

        result = await run_query(
            ctx, analysis.oi_gamma_by_strike, paged=True, symbol=symbol, day=date,
            view=view.value, slot=slot, expiry=expiry, limit=limit,
        )  # fmt: skip
        if not chart:
            return result  # type: ignore[no-any-return]
        payload = result.structured_content
        from shared.charts import gex_by_strike_png

        rows = payload["strikes"]
        name = title(payload["partition"], f"GEX by strike ({payload['expiry']})")
        return await with_chart(
            result,
            lambda: gex_by_strike_png(
                column(rows, "strike"), column(rows, "net_gex"), payload["spot"], name
            ),
        )
