"""Per-underlying files of one slot, each written the moment its last contract arrives.

A slot of 500 underlyings must not hold every row in memory until the end, and a run
killed half way should leave every finished underlying on disk: so rows are buffered per
underlying and flushed (atomically, through the common writer, in a worker thread) as soon
as the count the plan expected is reached.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pyarrow as pa

from collector.pipeline.rows import rows_to_table
from collector.pipeline.run import Run, RunContext
from collector.pipeline.store import write_chain


class SlotWriter:
    def __init__(
        self,
        run: Run,
        ctx: RunContext,
        expected: dict[str, int],
        kept: dict[str, list[dict[str, Any]]],
    ) -> None:
        self.run = run
        self.ctx = ctx
        self.expected = dict(expected)
        self.rows: dict[str, list[dict[str, Any]]] = {
            sym: list(kept.get(sym, [])) for sym in expected
        }
        self.pending: list[asyncio.Future[Any]] = []
        self.written: dict[str, int] = {}
        for sym, n in expected.items():
            if n == 0:
                self.flush(sym)  # retry with nothing missing: rewrite as is (keeps the file exact)

    def add(self, sym: str, row: dict[str, Any]) -> None:
        self.rows[sym].append(row)
        self.expected[sym] -= 1
        if self.expected[sym] == 0:
            self.flush(sym)

    def flush(self, sym: str) -> None:
        rows = self.rows.pop(sym, None)
        if rows is None:
            return
        table = rows_to_table(rows)
        self.written[sym] = table.num_rows
        self.pending.append(asyncio.ensure_future(asyncio.to_thread(self._write, sym, table)))

    async def drain(self) -> None:
        if self.pending:
            await asyncio.gather(*self.pending)

    def _write(self, sym: str, table: pa.Table) -> None:
        run = self.run
        rec = write_chain(
            run.cfg,
            run.layout,
            self.ctx.ledger,
            run.view,
            run.trade_date,
            sym,
            run.slot,
            table,
            self.ctx.run_id,
        )
        self.ctx.runlog.event(
            "partition",
            underlying=sym,
            rows=rec.rows,
            bytes=rec.bytes,
            quote_fill=rec.quote_fill,
            greeks_fill=rec.greeks_fill,
            delayed_rows=rec.delayed_rows,
        )
