"""Row tools: get_chain_sample, get_chain_change and get_history_bars."""

from typing import Annotated

from mcp.server.mcpserver import MCPServer
from pydantic import ConfigDict, Field

from mcp_server.models import (
    MAX_LIST_ITEMS,
    Cursor,
    DateArg,
    ExpiryArg,
    Fields,
    Meta,
    PartitionInfo,
    Reply,
    RightArg,
    SlotArg,
    StrikeMax,
    StrikeMin,
    Symbol,
    Table,
    TradingClassArg,
    View,
    ViewArg,
    limit_arg,
)
from mcp_server.tooling import READ_ONLY, run_query
from shared.queries.context import ServerContext


class ChainSampleReply(Table):
    partition: PartitionInfo
    spot: float | None = Field(description="Median und_price of the partition.")
    trading_classes: list[str] = Field(
        description="Trading classes in the partition (e.g. SPX and SPXW)."
    )
    meta: Meta


class ChainChangeReply(Reply):
    model_config = ConfigDict(populate_by_name=True)
    from_: PartitionInfo = Field(alias="from")
    to: PartitionInfo
    fields: list[str]
    summary: dict[str, float | None] = Field(description="Median change of each field.")
    contracts: Table = Field(description="Per contract: <field>_from, <field>_to, <field>_change.")
    meta: Meta


class HistorySpan(Reply):
    first_date: str | None
    last_date: str | None
    bars: int


class HistoryReply(Reply):
    symbol: str
    bar: str
    stored: HistorySpan = Field(description="What the history file holds in all.")
    bars: Table
    meta: Meta


def register(server: MCPServer, ctx: ServerContext) -> None:
    lim = ctx.limits

    @server.tool(annotations=READ_ONLY)
    async def get_chain_sample(
        symbol: Symbol,
        date: DateArg = None,
        view: ViewArg = View.daily_clean,
        slot: SlotArg = None,
        expiry: ExpiryArg = None,
        right: RightArg = None,
        strike_min: StrikeMin = None,
        strike_max: StrikeMax = None,
        trading_class: TradingClassArg = None,
        fields: Fields = None,
        limit: limit_arg(lim.sample.default, lim.sample.maximum) = None,  # type: ignore[valid-type]
        cursor: Cursor = None,
    ) -> ChainSampleReply:
        """Rows of one option-chain partition (one underlying, one date, one slot) as {columns, rows},
        sorted by expiry, strike, right, filtered by expiry / right / strike range / trading class.
        Default fields: conid expiry strike right bid ask mid volume open_interest iv delta gamma."""
        from shared.queries import chain

        return await run_query(  # type: ignore[no-any-return]
            ctx, chain.get_chain_sample, paged=True, symbol=symbol, day=date, view=view.value,
            slot=slot, expiry=expiry, right=right.value if right else None, strike_min=strike_min,
            strike_max=strike_max, trading_class=trading_class, fields=fields, limit=limit,
        )  # fmt: skip

    @server.tool(annotations=READ_ONLY)
    async def get_chain_change(
        symbol: Symbol,
        to_date: DateArg = None,
        to_slot: SlotArg = None,
        from_date: Annotated[
            str | None,
            Field(
                max_length=64,
                description="Start date (same forms as to_date); omitted = same day (raw views, "
                "previous slot) or the previous session.",
            ),
        ] = None,
        from_slot: Annotated[
            str | None, Field(max_length=64, description="Start slot HH:MM (raw views).")
        ] = None,
        view: ViewArg = View.daily_clean,
        expiry: ExpiryArg = None,
        right: RightArg = None,
        strike_min: StrikeMin = None,
        strike_max: StrikeMax = None,
        conids: Annotated[
            list[int] | None,
            Field(max_length=lim.rows.maximum, description="Only these contract ids."),
        ] = None,
        fields: Annotated[
            list[Annotated[str, Field(max_length=64)]] | None,
            Field(
                max_length=MAX_LIST_ITEMS,
                description="Numeric columns to compare (default mid, iv, delta, volume, "
                "open_interest, und_price).",
            ),
        ] = None,
        limit: limit_arg(lim.rows.default, lim.rows.maximum) = None,  # type: ignore[valid-type]
        cursor: Cursor = None,
    ) -> ChainChangeReply:
        """How a set of contracts changed between two slots of a day or between two days: each field's
        value at the start, at the end and the change, matched by contract id, with median changes."""
        from shared.queries import change

        return await run_query(  # type: ignore[no-any-return]
            ctx, change.chain_change, paged=True, symbol=symbol, to_date=to_date, to_slot=to_slot,
            from_date=from_date, from_slot=from_slot, view=view.value, expiry=expiry,
            right=right.value if right else None, strike_min=strike_min, strike_max=strike_max,
            conids=conids, fields=fields, limit=limit,
        )  # fmt: skip

    @server.tool(annotations=READ_ONLY)
    async def get_history_bars(
        symbol: Symbol,
        start: DateArg = None,
        end: DateArg = None,
        fields: Annotated[
            list[Annotated[str, Field(max_length=64)]] | None,
            Field(
                max_length=MAX_LIST_ITEMS,
                description="Bar columns (default bar_date open high low close volume; also wap, "
                "bar_count, conid, source_bar_size, source_bars).",
            ),
        ] = None,
        limit: limit_arg(lim.rows.default, lim.rows.maximum) = None,  # type: ignore[valid-type]
        cursor: Cursor = None,
    ) -> HistoryReply:
        """Daily bars (OHLC, volume) of an underlying from the stored history (clean/ib/history/bar=1d),
        oldest first, between start and end inclusive; without dates, the latest `limit` bars."""
        from shared.queries import history

        return await run_query(  # type: ignore[no-any-return]
            ctx, history.get_history_bars, paged=True, symbol=symbol, start=start, end=end,
            fields=fields, limit=limit,
        )  # fmt: skip
