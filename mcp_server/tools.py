"""Tool registration: typed, described parameters -> one pure query function each.

Every tool is read-only (readOnlyHint). Queries run in a worker thread under the
configured time limit; a QueryError becomes the caller's error message, anything else a
generic one (the traceback goes to stderr and the audit row, never to the client).
"""

import base64
import functools
import json
import logging
import traceback
from collections.abc import Callable
from typing import Annotated, Any

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult, ImageContent, TextContent, ToolAnnotations
from pydantic import Field

from mcp_server.audit import CURRENT_CALL
from mcp_server.context import ServerContext
from mcp_server.paths import QueryError
from mcp_server.queries import analysis, chain, change, health, issues, runs, surface, timeseries

log = logging.getLogger(__name__)

READ_ONLY = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)

Symbol = Annotated[
    str, Field(description="Underlying ticker, e.g. 'AAPL' or 'SPY' (1-10 of A-Z, 0-9, '.', '-').")
]
Day = Annotated[
    str | None,
    Field(description="Trade date YYYY-MM-DD or 'today'; omitted = the latest date with data."),
]
View = Annotated[
    str,
    Field(
        description="'daily_clean' (end-of-day, default), 'intraday' or 'close' (raw views need --allow-raw)."
    ),
]
Slot = Annotated[
    str | None,
    Field(
        description="ET slot HH:MM for raw views, e.g. '10:00'; omitted = the latest slot of the day."
    ),
]
Expiry = Annotated[str | None, Field(description="Option expiry YYYY-MM-DD.")]
Right = Annotated[str | None, Field(description="'C' (call) or 'P' (put); omitted = both.")]
StrikeMin = Annotated[float | None, Field(description="Lowest strike to include.")]
StrikeMax = Annotated[float | None, Field(description="Highest strike to include.")]


def Limit(default: int, maximum: int) -> Any:
    return Annotated[
        int | None,
        Field(
            description=f"Maximum rows to return (default {default}, clamped to 1-{maximum}; meta.clamped says so)."
        ),
    ]


async def _run(
    ctx: ServerContext, fn: Callable[..., dict[str, Any]], **kwargs: Any
) -> dict[str, Any]:
    record = CURRENT_CALL.get()
    try:
        with anyio.fail_after(ctx.limits.query_timeout_sec):
            return await anyio.to_thread.run_sync(
                functools.partial(fn, ctx, **kwargs), abandon_on_cancel=True
            )
    except QueryError as exc:
        if record:
            record.status = "rejected"
        raise ToolError(str(exc)) from None
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
            record.detail = traceback.format_exc()
        raise ToolError(
            f"internal error ({type(exc).__name__}); the details are in the server log"
        ) from None


def register_tools(server: MCPServer, ctx: ServerContext) -> None:
    lim = ctx.limits

    @server.tool(annotations=READ_ONLY)
    async def health_overview() -> dict[str, Any]:
        """Health of the collected data right now: per view the last slot written against the slot the
        XNYS calendar expected (fresh/stale), the current session's coverage (partitions written vs
        expected from the universe), delayed-data ratio, greeks and quote fill, run status counts, the
        day's error log size, the latest selfcheck report, logscan summary and QA metrics, and disk use. Start here."""
        return await _run(ctx, health.health_overview)

    @server.tool(annotations=READ_ONLY)
    async def run_status_overview(
        days: Annotated[
            int | None,
            Field(
                description=f"Sessions to cover, newest first ({lim.run_status_days.describe()})."
            ),
        ] = None,
    ) -> dict[str, Any]:
        """Status of every collector task (snapshot, close-snapshot, rollup, enrichment, qa, ...) per
        session for the last few sessions: run counts by status, the latest status, the last error."""
        return await _run(ctx, runs.run_status_overview, days=days)

    @server.tool(annotations=READ_ONLY)
    async def list_recent_runs(
        limit: Limit(lim.runs.default, lim.runs.maximum) = None,  # type: ignore[valid-type]
        task: Annotated[
            str | None,
            Field(description="Only this task, e.g. 'snapshot', 'rollup', 'enrichment'."),
        ] = None,
        status: Annotated[
            str | None,
            Field(description="Only this status: running, ok, partial, failed or missed."),
        ] = None,
    ) -> dict[str, Any]:
        """The most recent collector runs from the ledger, newest first, with counts, timings and errors."""
        return await _run(ctx, runs.list_recent_runs, limit=limit, task=task, status=status)

    @server.tool(annotations=READ_ONLY)
    async def get_partition_issues(
        days: Annotated[
            int | None,
            Field(description=f"Sessions to check, newest first ({lim.days.describe()})."),
        ] = None,
        view: Annotated[
            str | None,
            Field(
                description="Only this view: intraday, close or daily_clean; omitted = every readable view."
            ),
        ] = None,
        limit: Limit(lim.rows.default, lim.rows.maximum) = None,  # type: ignore[valid-type]
    ) -> dict[str, Any]:
        """Problems in recent partitions: expected slots that are missing (from calendar and universe),
        empty or corrupt files, leftover *.tmp files, files without ledger rows and the reverse,
        duplicate keys, low quote/greeks fill, delayed rows, rollup fallbacks and missing open interest.
        `summary` counts every issue kind; `issues` lists them newest first up to `limit`."""
        return await _run(ctx, issues.get_partition_issues, days=days, view=view, limit=limit)

    @server.tool(annotations=READ_ONLY)
    async def get_chain_sample(
        symbol: Symbol,
        date: Day = None,
        view: View = "daily_clean",
        slot: Slot = None,
        expiry: Expiry = None,
        right: Right = None,
        strike_min: StrikeMin = None,
        strike_max: StrikeMax = None,
        columns: Annotated[
            list[str] | None,
            Field(
                description="Columns to return (see the opt-data://contract resource); omitted = a useful default set."
            ),
        ] = None,
        limit: Limit(lim.sample.default, lim.sample.maximum) = None,  # type: ignore[valid-type]
    ) -> dict[str, Any]:
        """Rows of one option-chain partition (one underlying, one date, one slot), sorted by expiry,
        strike and right, filtered by expiry / right / strike range."""
        return await _run(
            ctx, chain.get_chain_sample, symbol=symbol, day=date, view=view, slot=slot, expiry=expiry,
            right=right, strike_min=strike_min, strike_max=strike_max, columns=columns, limit=limit,
        )  # fmt: skip

    @server.tool(annotations=READ_ONLY)
    async def get_iv_smile(
        symbol: Symbol,
        expiry: Expiry = None,
        date: Day = None,
        view: View = "daily_clean",
        slot: Slot = None,
        limit: Limit(lim.rows.default, lim.rows.maximum) = None,  # type: ignore[valid-type]
    ) -> dict[str, Any]:
        """Implied-volatility smile of one expiry (default: the nearest): call and put IV and delta per
        strike, moneyness K/S, and the out-of-the-money IV (puts below spot, calls above)."""
        return await _run(
            ctx,
            analysis.iv_smile,
            symbol=symbol,
            expiry=expiry,
            day=date,
            view=view,
            slot=slot,
            limit=limit,
        )

    @server.tool(annotations=READ_ONLY)
    async def get_atm_term_structure(
        symbol: Symbol,
        date: Day = None,
        view: View = "daily_clean",
        slot: Slot = None,
        limit: Limit(lim.rows.default, lim.rows.maximum) = None,  # type: ignore[valid-type]
    ) -> dict[str, Any]:
        """At-the-money implied volatility per expiry (strike nearest spot), with days to expiry."""
        return await _run(
            ctx,
            analysis.atm_term_structure,
            symbol=symbol,
            day=date,
            view=view,
            slot=slot,
            limit=limit,
        )

    @server.tool(annotations=READ_ONLY)
    async def get_put_call_ratios(
        symbol: Symbol,
        date: Day = None,
        view: View = "daily_clean",
        slot: Slot = None,
        by_expiry: Annotated[
            bool, Field(description="Also break the ratios down per expiry.")
        ] = True,
        limit: Limit(lim.rows.default, lim.rows.maximum) = None,  # type: ignore[valid-type]
    ) -> dict[str, Any]:
        """Put/call ratios of volume and open interest, in total and per expiry."""
        return await _run(ctx, analysis.put_call_ratios, symbol=symbol, day=date, view=view, slot=slot,
                          by_expiry=by_expiry, limit=limit)  # fmt: skip

    @server.tool(annotations=READ_ONLY)
    async def get_oi_gamma_by_strike(
        symbol: Symbol,
        date: Day = None,
        view: View = "daily_clean",
        slot: Slot = None,
        expiry: Expiry = None,
        limit: Limit(lim.rows.default, lim.rows.maximum) = None,  # type: ignore[valid-type]
    ) -> dict[str, Any]:
        """Open interest and gamma exposure (GEX, dollars per 1% move; calls +, puts -) per strike, over
        all expiries or one, with totals, the largest call/put OI strikes and the gamma-flip strike.
        With more strikes than `limit`, the strikes nearest spot are kept."""
        return await _run(ctx, analysis.oi_gamma_by_strike, symbol=symbol, day=date, view=view, slot=slot,
                          expiry=expiry, limit=limit)  # fmt: skip

    @server.tool(annotations=READ_ONLY)
    async def get_chain_change(
        symbol: Symbol,
        to_date: Annotated[
            str | None, Field(description="End date YYYY-MM-DD; omitted = the latest date.")
        ] = None,
        to_slot: Annotated[
            str | None, Field(description="End slot HH:MM (raw views); omitted = the latest slot.")
        ] = None,
        from_date: Annotated[
            str | None,
            Field(
                description="Start date; omitted = same day (raw views, previous slot) or the previous session."
            ),
        ] = None,
        from_slot: Annotated[str | None, Field(description="Start slot HH:MM (raw views).")] = None,
        view: View = "daily_clean",
        expiry: Expiry = None,
        right: Right = None,
        strike_min: StrikeMin = None,
        strike_max: StrikeMax = None,
        conids: Annotated[list[int] | None, Field(description="Only these contract ids.")] = None,
        fields: Annotated[
            list[str] | None,
            Field(
                description="Numeric columns to compare (default mid, iv, delta, volume, open_interest, und_price)."
            ),
        ] = None,
        limit: Limit(lim.rows.default, lim.rows.maximum) = None,  # type: ignore[valid-type]
    ) -> dict[str, Any]:
        """How a set of contracts changed between two slots of a day or between two days: each field's
        value at the start, at the end and the change, matched by contract id, with median changes."""
        return await _run(
            ctx, change.chain_change, symbol=symbol, to_date=to_date, to_slot=to_slot, from_date=from_date,
            from_slot=from_slot, view=view, expiry=expiry, right=right, strike_min=strike_min,
            strike_max=strike_max, conids=conids, fields=fields, limit=limit,
        )  # fmt: skip


async def _with_chart(payload: dict[str, Any], draw: Callable[[], bytes] | None) -> CallToolResult:
    """The same JSON as text and structuredContent, plus the PNG chart as image content
    (drawn in a worker thread: it takes a few hundred ms of CPU)."""
    content: list[Any] = [TextContent(type="text", text=json.dumps(payload, default=str))]
    if draw is not None:
        png = await anyio.to_thread.run_sync(draw)
        content.append(
            ImageContent(type="image", data=base64.b64encode(png).decode(), mime_type="image/png")
        )
    return CallToolResult(content=content, structured_content=payload)


ChartResult = Annotated[CallToolResult, dict[str, Any]]


Chart = Annotated[
    bool, Field(description="Also return a PNG chart as image content (default false).")
]
Tenors = Annotated[
    list[int] | None,
    Field(description="Constant maturities in calendar days (default 7, 30, 60, 90)."),
]


def register_vol_tools(server: MCPServer, ctx: ServerContext) -> None:
    @server.tool(annotations=READ_ONLY)
    async def get_vol_timeseries(
        symbol: Symbol,
        from_date: Annotated[
            str | None,
            Field(
                description="First date YYYY-MM-DD; omitted = `sessions` sessions before to_date."
            ),
        ] = None,
        to_date: Annotated[
            str | None,
            Field(description="Last date YYYY-MM-DD; omitted = the latest date with data."),
        ] = None,
        view: View = "daily_clean",
        each_slot: Annotated[
            bool,
            Field(description="Raw views: one row per slot instead of the day's last slot."),
        ] = False,
        tenors: Tenors = None,
        skew_tenor: Annotated[
            int, Field(description="Tenor in days of the 25-delta risk reversal and butterfly.")
        ] = 30,
        sessions: Annotated[
            int | None,
            Field(
                description="Sessions back from to_date when from_date is omitted (default 20, max 260)."
            ),
        ] = None,
        chart: Chart = False,
    ) -> ChartResult:
        """One underlying over time, one row per stored snapshot (date, or date and slot), as
        columns: spot, ATM IV at constant maturities (interpolated in total variance, VIX method),
        the 25-delta risk reversal and butterfly, put/call volume and OI ratios, and total GEX.
        A value the stored strikes or expiries do not reach is null, with a note in meta."""
        payload = await _run(
            ctx, timeseries.vol_timeseries, symbol=symbol, from_date=from_date, to_date=to_date,
            view=view, each_slot=each_slot, tenors=tenors, skew_tenor=skew_tenor, sessions=sessions,
        )  # fmt: skip
        if not chart:
            return await _with_chart(payload, None)
        from shared.charts import vol_timeseries_png

        title = (
            f"{payload['symbol']} {payload['view']} {payload['from_date']}..{payload['to_date']}"
        )
        return await _with_chart(
            payload, lambda: vol_timeseries_png(payload["series"], payload["tenors"], title)
        )

    @server.tool(annotations=READ_ONLY)
    async def get_vol_surface(
        symbol: Symbol,
        date: Day = None,
        view: View = "daily_clean",
        slot: Slot = None,
        deltas: Annotated[
            list[float] | None,
            Field(
                description="Call-equivalent deltas, 0-1 or 1-99 (default 10, 25, 50, 75, 90; 75 = 25-delta put)."
            ),
        ] = None,
        tenors: Annotated[
            list[int] | None,
            Field(description="Tenors in calendar days (default 7, 14, 30, 60, 90, 180)."),
        ] = None,
        extrapolate: Annotated[
            bool,
            Field(
                description="Past the first/last expiry use flat volatility (flagged); false = null."
            ),
        ] = True,
        chart: Chart = False,
    ) -> ChartResult:
        """The standardized volatility surface of one snapshot: IV at fixed deltas by fixed tenors
        (`iv[tenor][delta]`), each point flagged in `how` as exact, interpolated, extrapolated or
        not_reached (the stored strikes do not reach that delta: null, never invented), plus the
        per-expiry points it was built from."""
        payload = await _run(
            ctx, surface.vol_surface, symbol=symbol, day=date, view=view, slot=slot, deltas=deltas,
            tenors=tenors, extrapolate=extrapolate,
        )  # fmt: skip
        if not chart:
            return await _with_chart(payload, None)
        from shared.charts import vol_surface_png

        p = payload["partition"]
        title = f"{p['symbol']} {p['view']} {p['date']}{' ' + p['slot'] if p['slot'] else ''}"
        return await _with_chart(payload, lambda: vol_surface_png(payload, title))

    @server.tool(annotations=READ_ONLY)
    async def run_sql(
        sql: Annotated[
            str,
            Field(
                description="One SELECT over the views intraday, close, daily_clean, history, streaming "
                "(DuckDB SQL; filter on `date` and `underlying` to read fewer files)."
            ),
        ],
        limit: Annotated[
            int | None, Field(description="Maximum rows (default 200, clamped to 1-5000).")
        ] = None,
    ) -> dict[str, Any]:
        """Read-only SQL for questions no other tool answers: one SELECT, run in a sandboxed
        in-process DuckDB that reads only the stored views of the data root (no other file,
        no network, no settings). Rows are capped (meta.truncated); the query is stopped at the
        time limit. See docs/mcp.md, "run_sql"."""
        from mcp_server.sql import run_sql as run

        return await _run(ctx, run, sql=sql, limit=limit)
