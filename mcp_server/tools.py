"""Tool registration: typed, described parameters -> one pure query function each.

Every tool is read-only (readOnlyHint). Queries run in a worker thread under the
configured time limit; a QueryError becomes the caller's error message, anything else a
generic one (the traceback goes to stderr and the audit row, never to the client).
"""

import functools
import logging
import traceback
from collections.abc import Callable
from typing import Annotated, Any

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations
from pydantic import Field

from mcp_server.audit import CURRENT_CALL
from mcp_server.context import ServerContext
from mcp_server.paths import QueryError
from mcp_server.queries import analysis, chain, change, health, issues, runs
from shared.ledger import LedgerError

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
    except LedgerError as exc:  # unreachable shared ledger: its one line, no credentials
        if record:
            record.status = "error"
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
        expected from the universe; per shard and missing_shards when collectors split the universe), delayed-data ratio, greeks and quote fill, run status counts, the
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
        """Problems in recent partitions: expected slots that are missing (from calendar and universe; a
        missing_shard when a collector of a split universe wrote nothing),
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
