"""Compact, bounded replies: tables as columns plus row arrays, a byte budget, and a cursor.

Why: a chain row as pretty-printed JSON with repeated keys costs about 720 characters;
the same row as an array under one `columns` list costs about a sixth of that. Whatever
`limit` says, a table never takes more than its share of the reply budget, so a reply
stays well under the 25k-token tool-output cap of common clients. When rows are left
out, meta.truncated is true and meta.next_cursor continues where this reply stopped.

A cursor is `<offset>.<key>`: the key is a digest of the call's other arguments, so a
cursor cannot be replayed against a different question.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pydantic_core

from shared.queries.limits import Meta
from shared.queries.paths import QueryError

if TYPE_CHECKING:
    import polars as pl

# The whole reply's text. JSON of numbers is dense in tokens: measured at 1.8 characters
# a token with a BPE tokenizer (docs/benchmarks.md), so 24,000 bytes is at most about
# 13k tokens (6k at the 4-characters rule of thumb), well under a 25k-token cap.
REPLY_BUDGET_BYTES = 24_000
# What one table may take of it (the rest is the envelope: partition, summary, meta).
TABLE_BUDGET_BYTES = 20_000
# A reply over this is refused by the server as a last resort (a bug, never by design).
HARD_REPLY_BYTES = 64_000


def compact_json(obj: Any) -> str:
    """The reply's text: the same JSON as structuredContent, without indentation."""
    return pydantic_core.to_json(obj).decode()


@dataclass(frozen=True)
class Page:
    """Where a table reply starts and how many bytes its rows may take."""

    offset: int = 0
    key: str = ""
    max_bytes: int = TABLE_BUDGET_BYTES

    @classmethod
    def start(
        cls, tool: str, arguments: dict[str, Any], max_bytes: int = TABLE_BUDGET_BYTES
    ) -> Page:
        """The page a call asks for: its `cursor` argument, checked against the others."""
        key = fingerprint(tool, arguments)
        cursor = arguments.get("cursor")
        if not cursor:
            return cls(0, key, max_bytes)
        offset_text, _, cursor_key = str(cursor).partition(".")
        if not offset_text.isdigit() or len(offset_text) > 9:
            raise QueryError("cursor is not one this server gave (use meta.next_cursor as is)")
        if cursor_key != key:
            raise QueryError(
                "cursor belongs to a call with other arguments: repeat the same arguments with it"
            )
        return cls(int(offset_text), key, max_bytes)

    def cursor_at(self, offset: int) -> str:
        return f"{offset}.{self.key}"


def fingerprint(tool: str, arguments: dict[str, Any]) -> str:
    rest = {k: v for k, v in arguments.items() if k != "cursor" and v is not None}
    text = json.dumps([tool, rest], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def json_casts(schema: Mapping[str, Any]) -> list[pl.Expr]:
    """Dates and times as ISO text, floats rounded to 6 decimals, NaN and inf as null."""
    import polars as pl

    casts = []
    for name, dtype in schema.items():
        col = pl.col(name)
        if dtype == pl.Date:
            casts.append(col.dt.strftime("%Y-%m-%d"))
        elif isinstance(dtype, pl.Datetime):
            casts.append(col.dt.strftime("%Y-%m-%dT%H:%M:%S%.f%:z"))
        elif dtype in (pl.Float32, pl.Float64):
            # float32 (IB's model values) is widened first: rounded in float32, 0.349882
            # would widen back to 0.34988200664520264 in the JSON
            wide = col.cast(pl.Float64)
            casts.append(pl.when(wide.is_finite()).then(wide.round(6)).otherwise(None).alias(name))
    return casts


def json_ready(frame: pl.DataFrame) -> pl.DataFrame:
    casts = json_casts(frame.schema)
    return frame.with_columns(casts) if casts else frame


def table(
    frame: pl.DataFrame,
    meta: Meta,
    limit: int,
    page: Page | None = None,
    columns: list[str] | None = None,
) -> dict[str, Any]:
    """Rows [offset, offset+limit) of `frame` as {columns, rows}, cut to the page's byte budget.

    meta gets rows, truncated and (when more rows follow) next_cursor; a table's row count
    before paging goes to meta.total_rows.
    """
    page = page or Page()
    names = columns or list(frame.columns)
    total = frame.height
    if page.offset > total:
        raise QueryError(f"cursor offset {page.offset} is past the last row ({total})")
    window = frame.lazy().select(names).slice(page.offset, limit)
    casts = json_casts({n: frame.schema[n] for n in names})
    rows = [list(r) for r in (window.with_columns(casts) if casts else window).collect().rows()]
    kept = _within_budget(rows, page.max_bytes)
    if kept < len(rows):
        meta.notes.append(
            f"cut to {kept} rows by the {page.max_bytes}-byte reply budget; pass meta.next_cursor "
            "to continue, or ask for fewer fields"
        )
        rows = rows[:kept]
    end = page.offset + len(rows)
    meta.rows = len(rows)
    meta.extra["total_rows"] = total
    if page.offset:
        meta.extra["offset"] = page.offset
    if end < total:
        meta.truncated = True
        meta.next_cursor = page.cursor_at(end)
    return {"columns": names, "rows": rows}


def _within_budget(rows: list[list[Any]], max_bytes: int) -> int:
    """How many leading rows fit in max_bytes of compact JSON (at least one)."""
    if not rows or len(pydantic_core.to_json(rows)) <= max_bytes:
        return len(rows)
    used = 2  # the brackets
    for i, row in enumerate(rows):
        used += len(pydantic_core.to_json(row)) + (1 if i else 0)
        if used > max_bytes:
            return max(1, i)
    return len(rows)


def records_table(
    records: list[dict[str, Any]], meta: Meta, limit: int, page: Page | None = None
) -> dict[str, Any]:
    """A table from JSON-ready dicts (issues, runs): the union of their keys as columns."""
    names = list(dict.fromkeys(k for r in records for k in r))
    rows_all = [[r.get(k) for k in names] for r in records]
    page = page or Page()
    if page.offset > len(rows_all):
        raise QueryError(f"cursor offset {page.offset} is past the last row ({len(rows_all)})")
    window = rows_all[page.offset : page.offset + limit]
    kept = _within_budget(window, page.max_bytes)
    window = window[:kept]
    end = page.offset + len(window)
    meta.rows = len(window)
    meta.extra["total_rows"] = len(rows_all)
    if end < len(rows_all):
        meta.truncated = True
        meta.next_cursor = page.cursor_at(end)
    return {"columns": names, "rows": window}
