"""Volatility over time and the standard surface; `chart=true` adds a PNG (shared/charts.py).

Methods and sources: shared/analytics and docs/mcp.md, "Methods of the time-series and
surface tools".
"""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import MCPServer
from mcp_types import CallToolResult
from pydantic import Field

from mcp_server.models import (
    MAX_ARG_CHARS,
    Cursor,
    DateArg,
    Meta,
    PartitionInfo,
    Reply,
    SlotArg,
    Symbol,
    Table,
    View,
    ViewArg,
)
from mcp_server.tooling import READ_ONLY, run_query
from mcp_server.tools.chart_reply import Chart, reply, title, with_chart
from shared.queries.context import ServerContext

RangeDate = Annotated[
    str | None,
    Field(
        max_length=MAX_ARG_CHARS,
        description="YYYY-MM-DD or a relative date ('yesterday', 'last_session', '-N', "
        "'monday', ...).",
    ),
]
Days = Annotated[int, Field(ge=1, le=730)]


class TimeseriesReply(Reply):
    symbol: str
    view: View
    from_date: str
    to_date: str
    tenors: list[int] = Field(description="Constant maturities of the atm_iv_<N>d columns.")
    skew_tenor: int = Field(description="Tenor in days of rr25 and bf25.")
    series: Table = Field(
        description="One row per stored snapshot: date, slot (raw views), spot, atm_iv_<N>d "
        "(ATM IV at N days, interpolated in total variance), rr25 (25-delta call IV - 25-delta "
        "put IV), bf25 ((25c + 25p)/2 - ATM), total_gex ($ per 1% move), pc_volume_ratio, "
        "pc_oi_ratio. null = not reached by the stored strikes or expiries."
    )
    meta: Meta


class SurfaceReply(Reply):
    partition: PartitionInfo
    spot: float | None
    deltas: list[float] = Field(description="Call-equivalent deltas (0.75 = the 25-delta put).")
    tenors: list[int] = Field(description="Tenors in calendar days.")
    iv: list[list[float | None]] = Field(description="iv[i][j]: IV at tenors[i] and deltas[j].")
    how: list[list[str]] = Field(
        description="Per point: exact (a stored expiry at that tenor), interpolated (in total "
        "variance between expiries), extrapolated (flat vol past the first/last expiry), "
        "not_reached (no stored strike reaches that delta: iv is null)."
    )
    by_expiry: Table = Field(
        description="The stored expiries: days, trading class, ATM IV, the delta span of the "
        "stored strikes and the IV at each delta (null where not reached)."
    )
    meta: Meta


def register(server: MCPServer, ctx: ServerContext) -> None:
    @server.tool(annotations=READ_ONLY)
    async def get_vol_timeseries(
        symbol: Symbol,
        from_date: RangeDate = None,
        to_date: RangeDate = None,
        view: ViewArg = View.daily_clean,
        each_slot: Annotated[
            bool, Field(description="Raw views: one row per slot, not the day's last slot.")
        ] = False,
        tenors: Annotated[
            list[Days] | None,
            Field(
                max_length=12, description="Constant maturities in days (default 7, 30, 60, 90)."
            ),
        ] = None,
        skew_tenor: Annotated[
            Days, Field(description="Tenor in days of the 25-delta risk reversal and butterfly.")
        ] = 30,
        sessions: Annotated[
            int | None,
            Field(
                description="Sessions back from to_date when from_date is omitted (default 20, max "
                "260); with from_date the whole range is read, up to 260 sessions."
            ),
        ] = None,
        limit: Annotated[
            int | None, Field(description="Maximum rows (default 500, clamped to 1-5000).")
        ] = None,
        cursor: Cursor = None,
        chart: Chart = False,
    ) -> Annotated[CallToolResult, TimeseriesReply]:
        """One underlying over a date range, one row per stored snapshot (per date, or per date and
        slot): spot, ATM IV at constant maturities (7/30/60/90 days, total-variance interpolation as
        in the VIX method), the 25-delta risk reversal and butterfly, put/call volume and OI ratios,
        and total GEX. Values the stored strikes or expiries do not reach are null, with a note."""
        from shared.queries import timeseries

        result = await run_query(
            ctx, timeseries.vol_timeseries, paged=True, symbol=symbol, from_date=from_date,
            to_date=to_date, view=view.value, each_slot=each_slot, tenors=tenors,
            skew_tenor=skew_tenor, sessions=sessions, limit=limit, with_full_series=chart,
        )  # fmt: skip
        if not chart:
            return result  # type: ignore[no-any-return]
        # The chart draws every row; the reply keeps its page and drops the full series.
        payload = dict(result.structured_content or {})
        full = payload.pop("_full_series")
        from shared.charts import vol_timeseries_png

        name = f"{payload['symbol']} {payload['view']} {payload['from_date']}..{payload['to_date']}"
        return await reply(payload, lambda: vol_timeseries_png(full, payload["tenors"], name))

    @server.tool(annotations=READ_ONLY)
    async def get_vol_surface(
        symbol: Symbol,
        date: DateArg = None,
        view: ViewArg = View.daily_clean,
        slot: SlotArg = None,
        deltas: Annotated[
            list[Annotated[float, Field(gt=0, lt=100)]] | None,
            Field(
                max_length=11,
                description="Call-equivalent deltas as 0-1 or 1-99 (default 10, 25, 50, 75, 90; "
                "75 = the 25-delta put).",
            ),
        ] = None,
        tenors: Annotated[
            list[Days] | None,
            Field(max_length=12, description="Tenors in days (default 7, 14, 30, 60, 90, 180)."),
        ] = None,
        extrapolate: Annotated[
            bool,
            Field(
                description="Past the first/last expiry use flat volatility (flagged); false = null."
            ),
        ] = True,
        chart: Chart = False,
    ) -> Annotated[CallToolResult, SurfaceReply]:
        """The standardized volatility surface of one snapshot: IV at fixed deltas by fixed tenors,
        each point flagged exact / interpolated / extrapolated / not_reached (the stored strikes do
        not reach that delta: null, never invented), with the per-expiry points it was built from."""
        from shared.queries import surface

        result = await run_query(
            ctx, surface.vol_surface, symbol=symbol, day=date, view=view.value, slot=slot,
            deltas=deltas, tenors=tenors, extrapolate=extrapolate,
        )  # fmt: skip
        if not chart:
            return result  # type: ignore[no-any-return]
        payload = result.structured_content
        from shared.charts import vol_surface_png

        name = title(payload["partition"], "surface")
        return await with_chart(result, lambda: vol_surface_png(payload, name))
