"""The runbook's delayed rows, one rule for the writer's count and QA's delayed ratio.

A row is served delayed when it was collected after a fallback to delayed data
(`delayed_fallback`) or carries market data type 3/4 (delayed, delayed-frozen). The writer
counts these rows into the ledger (`partitions.served_delayed`) and QA counts them when it
reads a file itself; both use this expression, so the two counts cannot drift apart.
"""

from __future__ import annotations

import polars as pl

from shared.schema import DELAYED_TYPES

SERVED_DELAYED_COLUMNS = ["delayed_fallback", "market_data_type"]


def served_delayed() -> pl.Expr:
    """True for a row served delayed (see the module note); nulls count as not delayed."""
    return pl.col("delayed_fallback").fill_null(False) | pl.col("market_data_type").is_in(
        [int(t) for t in DELAYED_TYPES]
    ).fill_null(False)
