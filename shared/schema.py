"""Arrow schemas of every stored view: the data contract in code (docs/data-contract.md in prose)."""

from __future__ import annotations

from enum import IntEnum

import pyarrow as pa

TS = pa.timestamp("us", tz="UTC")


class MarketDataType(IntEnum):
    """IB's market data types (reqMarketDataType), stored as received in `market_data_type`.

    https://interactivebrokers.github.io/tws-api/market_data_type.html: 1 live, 2 frozen
    (the last data recorded at the close, for requests outside the session), 3 delayed,
    4 delayed-frozen.
    """

    LIVE = 1
    FROZEN = 2
    DELAYED = 3
    DELAYED_FROZEN = 4

    @property
    def delayed(self) -> bool:
        return self in DELAYED_TYPES


DELAYED_TYPES = (MarketDataType.DELAYED, MarketDataType.DELAYED_FROZEN)

# Values of data_quality_flags (a list column). Documented in docs/data-contract.md.
FLAG_MISSING_QUOTE = "missing_quote"
FLAG_MISSING_GREEKS = "missing_greeks"
FLAG_GREEKS_SENTINEL = "greeks_sentinel"
FLAG_CROSSED = "crossed"
FLAG_TIMEOUT = "timeout"
FLAG_NO_PERMISSION = "no_permission"
FLAG_DELAYED = "delayed"
FLAG_MISSING_OI = "missing_oi"
FLAG_OI_ENRICHMENT_FAILED = "oi_enrichment_failed"
FLAG_SLOT_RETRY_EXCEEDED = "slot_retry_exceeded"
FLAG_DISCOVERY_STALE = "discovery_stale"
# Expired on its trade date: no open interest exists the next morning (also its missing_reason)
FLAG_EXPIRED = "expired"
ALL_FLAGS = (
    FLAG_MISSING_QUOTE,
    FLAG_MISSING_GREEKS,
    FLAG_GREEKS_SENTINEL,
    FLAG_CROSSED,
    FLAG_TIMEOUT,
    FLAG_NO_PERMISSION,
    FLAG_DELAYED,
    FLAG_MISSING_OI,
    FLAG_OI_ENRICHMENT_FAILED,
    FLAG_SLOT_RETRY_EXCEEDED,
    FLAG_DISCOVERY_STALE,
    FLAG_EXPIRED,
)

ROLLUP_STRATEGIES = ("close", "last_good", "intraday_fallback")

IDENTITY_FIELDS = [
    pa.field("trade_date", pa.date32(), nullable=False),
    pa.field("slot", pa.string(), nullable=False),  # ET label "HH:MM"
    pa.field("sample_time", TS, nullable=False),
    pa.field("ingest_id", pa.string(), nullable=False),
    pa.field("underlying", pa.string(), nullable=False),
    pa.field("underlying_conid", pa.int64()),
    pa.field("conid", pa.int64(), nullable=False),
    pa.field("local_symbol", pa.string()),
    pa.field("trading_class", pa.string()),
    pa.field("expiry", pa.date32(), nullable=False),
    pa.field("strike", pa.float64(), nullable=False),
    pa.field("right", pa.string(), nullable=False),  # "C" | "P"
    pa.field("multiplier", pa.int32()),
    pa.field("exchange", pa.string()),
    pa.field("currency", pa.string()),
]
QUOTE_FIELDS = [
    pa.field("bid", pa.float64()),
    pa.field("ask", pa.float64()),
    pa.field("last", pa.float64()),
    pa.field("mid", pa.float64()),
    pa.field("bid_size", pa.float64()),
    pa.field("ask_size", pa.float64()),
    pa.field("last_size", pa.float64()),
    pa.field("volume", pa.float64()),
    pa.field("close", pa.float64()),
]
# IB's model values are stored as float32 (24-bit mantissa: relative precision 6e-8, i.e.
# seven significant digits; model_price within $0.001 below $10,000). They are model
# outputs, not quoted prices; every quoted price, the strike and the underlying's price
# stay float64, exact to the cent. Files written before this change hold float64 and read
# back as such (conform() casts). See docs/data-contract.md, "Storage encoding".
MODEL_FLOAT32 = ("iv", "delta", "gamma", "vega", "theta", "model_price")
MODEL_FIELDS = [
    pa.field("iv", pa.float32()),
    pa.field("delta", pa.float32()),
    pa.field("gamma", pa.float32()),
    pa.field("vega", pa.float32()),
    pa.field("theta", pa.float32()),
    pa.field("model_price", pa.float32()),
    pa.field("pv_dividend", pa.float64()),
    pa.field("und_price", pa.float64()),
]
CONTEXT_FIELDS = [
    pa.field("reference_price", pa.float64()),
    pa.field("open_interest", pa.int64()),
]
PROVENANCE_FIELDS = [
    pa.field(
        "market_data_type", pa.int8()
    ),  # as received from IB: 1 live, 2 frozen, 3 delayed, 4 delayed-frozen
    pa.field("delayed_fallback", pa.bool_(), nullable=False),
    pa.field("data_quality_flags", pa.list_(pa.string()), nullable=False),
    pa.field("missing_reason", pa.string()),
]

SNAPSHOT_SCHEMA = pa.schema(
    IDENTITY_FIELDS + QUOTE_FIELDS + MODEL_FIELDS + CONTEXT_FIELDS + PROVENANCE_FIELDS
)

DAILY_CLEAN_EXTRA = [
    pa.field("rollup_source_time", TS),
    pa.field("rollup_source_slot", pa.string()),
    pa.field("rollup_strategy", pa.string(), nullable=False),
    pa.field("oi_asof_date", pa.date32()),
]
DAILY_CLEAN_SCHEMA = pa.schema(list(SNAPSHOT_SCHEMA) + DAILY_CLEAN_EXTRA)

HISTORY_SCHEMA = pa.schema(
    [
        pa.field("underlying", pa.string(), nullable=False),
        pa.field("conid", pa.int64()),
        pa.field("bar_date", pa.date32(), nullable=False),
        pa.field("open", pa.float64()),
        pa.field("high", pa.float64()),
        pa.field("low", pa.float64()),
        pa.field("close", pa.float64()),
        pa.field("volume", pa.float64()),
        pa.field("wap", pa.float64()),
        pa.field("bar_count", pa.int64()),
        pa.field("source_bar_size", pa.string()),
        pa.field("source_bars", pa.int32()),
        pa.field("ingest_id", pa.string()),
    ]
)

STREAMING_SCHEMA = pa.schema(
    [
        pa.field("trade_date", pa.date32(), nullable=False),
        pa.field("event_time", TS, nullable=False),
        pa.field("ingest_id", pa.string(), nullable=False),
        pa.field("underlying", pa.string(), nullable=False),
        pa.field("conid", pa.int64(), nullable=False),
        pa.field("sec_type", pa.string()),
        pa.field("expiry", pa.date32()),
        pa.field("strike", pa.float64()),
        pa.field("right", pa.string()),
        pa.field("bid", pa.float64()),
        pa.field("ask", pa.float64()),
        pa.field("last", pa.float64()),
        pa.field("bid_size", pa.float64()),
        pa.field("ask_size", pa.float64()),
        pa.field("volume", pa.float64()),
        pa.field("iv", pa.float64()),
        pa.field("delta", pa.float64()),
        pa.field("gamma", pa.float64()),
        pa.field("vega", pa.float64()),
        pa.field("theta", pa.float64()),
        pa.field("und_price", pa.float64()),
        pa.field("market_data_type", pa.int8()),
    ]
)

SORT_KEYS = [("expiry", "ascending"), ("strike", "ascending"), ("right", "ascending")]


def schema_for_view(view: str) -> pa.Schema:
    return DAILY_CLEAN_SCHEMA if view == "daily_clean" else SNAPSHOT_SCHEMA


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Select and cast columns to the schema (missing nullable columns become nulls)."""
    cols = []
    for field in schema:
        if field.name in table.column_names:
            cols.append(table.column(field.name).cast(field.type))
        elif field.nullable:
            cols.append(pa.nulls(table.num_rows, type=field.type))
        else:
            raise ValueError(f"column {field.name!r} is required by the data contract")
    return pa.Table.from_arrays(cols, schema=schema)
