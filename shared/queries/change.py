"""chain_change: how a set of contracts moved between two slots of a day or two days."""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl

from shared.calendar import previous_session
from shared.queries.chain import check_expiry, check_right, check_strikes, contract_filter
from shared.queries.context import ServerContext
from shared.queries.frames import (
    Partition,
    one_row_per_contract,
    partition_info,
    read_partition,
    repeated_rows_note,
    resolve_partition,
    to_records,
)
from shared.queries.limits import Meta, clamp
from shared.queries.paths import QueryError
from shared.queries.results import Page, table

DEFAULT_FIELDS = ["mid", "iv", "delta", "volume", "open_interest", "und_price"]
NUMERIC_FIELDS = {
    "bid", "ask", "last", "mid", "bid_size", "ask_size", "last_size", "volume", "close", "iv",
    "delta", "gamma", "vega", "theta", "model_price", "und_price", "open_interest",
}  # fmt: skip
KEYS = ["conid", "expiry", "strike", "right"]


def _previous(ctx: ServerContext, to: Partition) -> tuple[date, str | None]:
    """Default start: the slot before `to` on the same day (raw views), else the prior session."""
    if to.view != "daily_clean" and to.slot:
        before = ctx.ledger.latest_slot(to.view, to.trade_date, to.symbol, before=to.slot)
        if before:
            return to.trade_date, before
    return previous_session(to.trade_date).trade_date, None


def chain_change(
    ctx: ServerContext,
    symbol: str,
    to_date: str | None = None,
    to_slot: str | None = None,
    from_date: str | None = None,
    from_slot: str | None = None,
    view: str = "daily_clean",
    expiry: str | None = None,
    right: str | None = None,
    strike_min: float | None = None,
    strike_max: float | None = None,
    conids: list[int] | None = None,
    fields: list[str] | None = None,
    limit: int | None = None,
    page: Page | None = None,
) -> dict[str, Any]:
    meta = Meta()
    n = meta.apply(clamp(ctx.limits.rows, limit))
    wanted = list(dict.fromkeys(fields)) if fields else DEFAULT_FIELDS
    bad = [f for f in wanted if f not in NUMERIC_FIELDS]
    if bad:
        raise QueryError(
            f"fields must be numeric columns ({', '.join(sorted(NUMERIC_FIELDS))}); got {bad}"
        )
    select = contract_filter(
        check_expiry(expiry), check_right(right), *check_strikes(strike_min, strike_max)
    )
    if select is None:
        select = pl.lit(True)
    if conids:
        if len(conids) > ctx.limits.rows.maximum:
            raise QueryError(
                f"at most {ctx.limits.rows.maximum} conids per call, got {len(conids)}"
            )
        select &= pl.col("conid").is_in(conids)
    to = resolve_partition(ctx, symbol, to_date, view, to_slot, meta, prefix="to_")
    if from_date is None and from_slot is None:
        start_day, start_slot = _previous(ctx, to)
        frm = resolve_partition(
            ctx, symbol, start_day.isoformat(), view, start_slot, meta, prefix="from_"
        )
    else:
        frm = resolve_partition(
            ctx, symbol, from_date or to.trade_date.isoformat(), view, from_slot, meta, "from_"
        )
    if (frm.trade_date, frm.slot) == (to.trade_date, to.slot):
        raise QueryError(
            "from and to name the same partition: give a different from_date or from_slot"
        )
    cols = KEYS + wanted
    before, repeated_from = one_row_per_contract(read_partition(ctx, frm, cols, meta))
    after, repeated_to = one_row_per_contract(read_partition(ctx, to, cols, meta))
    if repeated_from + repeated_to:  # a repeated row would pair with each copy on the other side
        meta.notes.append(repeated_rows_note(repeated_from + repeated_to))
    before, after = before.filter(select).select(cols), after.filter(select).select(cols)
    joined = before.join(after, on=KEYS, how="inner", suffix="_to").rename(
        {f: f"{f}_from" for f in wanted}
    )
    joined = joined.with_columns(
        [(pl.col(f"{f}_to") - pl.col(f"{f}_from")).alias(f"{f}_change") for f in wanted]
    ).sort(["expiry", "strike", "right"])
    only_from = before.join(after, on="conid", how="anti").height
    only_to = after.join(before, on="conid", how="anti").height
    summary = {f"median_{f}_change": joined[f"{f}_change"].median() for f in wanted}
    meta.extra.update({"contracts_only_in_from": only_from, "contracts_only_in_to": only_to})
    rows = table(joined, meta, n, page)
    return {
        "from": partition_info(frm),
        "to": partition_info(to),
        "fields": wanted,
        "summary": to_records(pl.DataFrame([summary]))[0] if summary else {},
        "contracts": rows,
        "meta": meta.as_dict(),
    }
