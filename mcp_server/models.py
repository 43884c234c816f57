"""Typed tool arguments and replies: what every tool's inputSchema and outputSchema say.

Arguments are Annotated types with a description, a bound on their length (a 200,000
character string is refused by the SDK's validation, never echoed) and enums where the
set of values is closed. Replies are pydantic models; the SDK publishes their JSON schema
as the tool's outputSchema and validates each reply against it. Models import nothing
heavy (no pyarrow, no polars): the server answers `initialize` before any query runs.

Tabular parts of a reply are a `Table` (column names once, then one array per row), the
compact form agents pay fewest tokens for; see shared/queries/results.py.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
)

# --- closed sets ----------------------------------------------------------------------------


class View(StrEnum):
    """A stored chain view (see the opt-data://contract resource)."""

    daily_clean = "daily_clean"
    intraday = "intraday"
    close = "close"


class Right(StrEnum):
    C = "C"
    P = "P"


# --- argument types (bounded strings, enums, integers) ----------------------------------------
MAX_ARG_CHARS = 64  # any free-text argument; longer is a validation error, never echoed
MAX_LIST_ITEMS = 64

Symbol = Annotated[
    str,
    Field(
        max_length=MAX_ARG_CHARS,
        description="Underlying ticker, e.g. 'AAPL' or 'SPY' (1-10 of A-Z, 0-9, '.', '-'); "
        "list_underlyings says which exist.",
    ),
]
DateArg = Annotated[
    str | None,
    Field(
        max_length=MAX_ARG_CHARS,
        description="Trade date: YYYY-MM-DD, 'today', 'yesterday' (the session before today), "
        "'last_session' (the latest closed session), '-N' (N sessions back) or a weekday name "
        "('monday': the latest Monday session). Omitted = the latest date with data.",
    ),
]
ViewArg = Annotated[
    View,
    Field(
        description="daily_clean (end of day) or the raw views intraday / close (need --allow-raw)."
    ),
]
OptionalView = Annotated[
    View | None, Field(description="Only this view; omitted = every view this server serves.")
]
SlotArg = Annotated[
    str | None,
    Field(
        max_length=MAX_ARG_CHARS,
        description="ET slot HH:MM for raw views, e.g. '10:00'; omitted = the latest slot of the day.",
    ),
]
ExpiryArg = Annotated[
    str | None, Field(max_length=MAX_ARG_CHARS, description="Option expiry YYYY-MM-DD.")
]
RightArg = Annotated[Right | None, Field(description="C (calls) or P (puts); omitted = both.")]
TradingClassArg = Annotated[
    str | None,
    Field(
        max_length=MAX_ARG_CHARS,
        description="Only this trading class, e.g. 'SPXW' or 'SPX' (SPX monthlies and SPXW "
        "weeklies can share an expiry); omitted = every class.",
    ),
]
StrikeMin = Annotated[float | None, Field(description="Lowest strike to include.")]
StrikeMax = Annotated[float | None, Field(description="Highest strike to include.")]
Fields = Annotated[
    list[Annotated[str, Field(max_length=MAX_ARG_CHARS)]] | None,
    Field(
        max_length=MAX_LIST_ITEMS,
        description="Columns to return, in this order (names from the opt-data://contract "
        "resource); omitted = a compact default set.",
    ),
]
Cursor = Annotated[
    str | None,
    Field(
        max_length=200,
        description="meta.next_cursor of a truncated reply: repeat the call with the same "
        "arguments plus this cursor to get the next rows.",
    ),
]


def limit_arg(default: int, maximum: int) -> Any:
    """A row cap: an integer, clamped (not refused) to 1..maximum; meta.clamped says so."""
    return Annotated[
        int | None,
        Field(
            description=f"Maximum rows to return (default {default}, clamped to 1-{maximum}; "
            "meta.clamped says so). Replies are also cut to a byte budget (meta.truncated, "
            "meta.next_cursor)."
        ),
    ]


def days_arg(default: int, maximum: int) -> Any:
    return Annotated[
        int | None,
        Field(
            description=f"Sessions to cover, newest first (default {default}, clamped to 1-{maximum})."
        ),
    ]


# --- reply parts ------------------------------------------------------------------------------
def _lean_schema(schema: dict[str, Any]) -> None:
    # pydantic titles repeat the field names; every tool's outputSchema carries them, so
    # dropping them shortens tools/list (what a client pays for before its first call)
    schema.pop("title", None)
    for prop in schema.get("properties", {}).values():
        if isinstance(prop, dict):
            prop.pop("title", None)


class Reply(BaseModel):
    """Base of every reply model: its JSON schema without generated titles."""

    model_config = ConfigDict(json_schema_extra=_lean_schema)


class Open(Reply):
    """A JSON object whose keys depend on the data (run-log summaries, per-kind counts)."""

    model_config = ConfigDict(extra="allow")


class Meta(Reply):
    """What the server did: the row cap applied, whether it was clamped, what was read,
    rows returned, whether (and how) to continue; see docs/mcp.md."""

    model_config = ConfigDict(extra="allow")
    limit: int | None
    clamped: bool
    source: list[str]
    rows: int
    truncated: bool = Field(description="More rows exist than this reply holds.")
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` to continue.")
    resolved: dict[str, str | None] | None = Field(
        default=None, description="Relative or omitted dates and slots as resolved."
    )
    notes: list[str] | None = None

    @model_serializer(mode="wrap")
    def _omit_empty(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # next_cursor, resolved and notes are absent rather than null: fewer tokens per reply
        data: dict[str, Any] = handler(self)
        return {k: v for k, v in data.items() if v is not None or k == "limit"}


class Table(Reply):
    """Rows as arrays under one list of column names (compact: no repeated keys)."""

    columns: list[str] = Field(description="Column names, in the order of each row's values.")
    rows: list[list[Any]] = Field(
        description="One array per row; dates and times are ISO text, missing values null."
    )


class PartitionInfo(Reply):
    symbol: str
    view: View
    date: str = Field(description="Trade date YYYY-MM-DD (resolved).")
    slot: str | None = Field(description="ET slot HH:MM; null for daily_clean.")
