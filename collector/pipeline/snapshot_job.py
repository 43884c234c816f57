"""The snapshot job (intraday slots and the close snapshot): caches -> engine -> partitions.

Crash safety: each underlying's file is written atomically the moment its last contract
is released, and recorded in the ledger. A run killed mid-slot leaves its ledger row
`running`; the next run of the same slot (holding the slot lock, so the old one is dead)
skips the underlyings that run already wrote and reuses its ingest_id.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date
from typing import Any

import pyarrow as pa

from collector.ib import IBError, IBSession, OptionContract
from collector.ib.contracts import reference_price
from collector.pipeline.common import (
    JobResult,
    RunContext,
    as_date,
    check_slot,
    connected,
    session_for,
)
from collector.pipeline.discovery import (
    ContractCache,
    save_cache,
)
from collector.pipeline.engine import Collected, EngineParams, SnapshotEngine
from collector.pipeline.errors import InputError, JobFailed
from collector.pipeline.locks import SlotLock
from collector.pipeline.progress import Progress
from collector.pipeline.rows import RowContext, build_row, rows_to_table
from collector.pipeline.snapshot_plan import (
    SnapshotOverrides,
    engine_params,
    overrides_from,
    pick_contracts,
    prepare_caches,
)
from collector.pipeline.store import (
    read_table,
    remove_tmp_files,
    write_chain,
    write_chain_record,
)
from collector.pipeline.universe import UniverseEntry, resolve_symbols
from shared import schema as S
from shared.calendar import slot_datetime, slot_file_label
from shared.config import AppConfig
from shared.ledger import INTERRUPTED, LedgerReader
from shared.schema import MarketDataType
from shared.storage import Layout, append_jsonl

log = logging.getLogger(__name__)
# After the close IB serves the last recorded values only as frozen data (type 2).
CLOSE_MARKET_DATA_TYPE = MarketDataType.FROZEN
RETRY_FLAGS = (S.FLAG_SLOT_RETRY_EXCEEDED, S.FLAG_MISSING_QUOTE, S.FLAG_TIMEOUT)


def _resume_state(
    layout: Layout, task: str, view: str, trade_date: date, slot: str
) -> tuple[list[str], set[str]]:
    """(interrupted run ids, underlyings they already wrote) for the latest chain of dead runs."""
    reader = LedgerReader(layout.ledger)
    chain = reader.resume_chain(task, trade_date, slot)
    return chain, reader.underlyings_written_by(view, trade_date, slot, chain)


class _UnderlyingWriter:
    """Buffers rows per underlying; writes each file as soon as its last contract arrives."""

    def __init__(
        self, job: _SnapshotRun, expected: dict[str, int], kept: dict[str, list[dict[str, Any]]]
    ) -> None:
        self.job = job
        self.expected = expected
        self.rows: dict[str, list[dict[str, Any]]] = {
            sym: list(kept.get(sym, [])) for sym in expected
        }
        self.pending: list[asyncio.Future[Any]] = []
        self.written: dict[str, int] = {}

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
        self.pending.append(asyncio.ensure_future(asyncio.to_thread(self.job.write, sym, table)))

    async def drain(self) -> None:
        if self.pending:
            await asyncio.gather(*self.pending)


class _SnapshotRun:
    def __init__(
        self,
        cfg: AppConfig,
        layout: Layout,
        ctx: RunContext,
        view: str,
        trade_date: date,
        slot: str,
    ) -> None:
        self.cfg, self.layout, self.ctx = cfg, layout, ctx
        self.view, self.trade_date, self.slot = view, trade_date, slot

    def write(self, sym: str, table: pa.Table) -> None:
        rec = write_chain(
            self.cfg,
            self.layout,
            self.ctx.ledger,
            self.view,
            self.trade_date,
            sym,
            self.slot,
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


async def run_snapshot_job(
    cfg: AppConfig,
    trade_date: date | str,
    slot: str | None,
    symbols: str | list[str] | None = None,
    *,
    view: str = "intraday",
    overrides: SnapshotOverrides | dict[str, Any] | None = None,
    progress: bool = True,
    session: IBSession | None = None,
    fail_on_missing_cache: bool = False,
) -> JobResult:
    task = "close-snapshot" if view == "close" else "snapshot"
    d = as_date(trade_date)
    xnys = session_for(d)
    if view == "close":
        slot = xnys.slots(cfg.schedule.slot_interval_minutes)[
            -1
        ]  # the real last slot (early close too)
        mdt = CLOSE_MARKET_DATA_TYPE
    elif view == "intraday":
        if slot is None:
            raise InputError("snapshot needs --slot HH:MM")
        slot = check_slot(cfg, xnys, slot)
        mdt = MarketDataType(cfg.ib.market_data_type)
    else:
        raise InputError(f"view must be intraday or close, got {view!r}")
    entries = resolve_symbols(cfg, symbols, view)
    ov = overrides_from(overrides)
    params = engine_params(cfg, ov)
    layout = Layout.from_config(cfg)
    try:
        async with connected(
            cfg, session, market_data_type=mdt, max_messages_per_sec=params.max_messages_per_sec
        ) as ib:
            with ib.market_data_type_as(mdt):
                return await _run_connected(
                    cfg,
                    layout,
                    ib,
                    task,
                    view,
                    d,
                    slot,
                    entries,
                    ov,
                    params,
                    progress,
                    mdt,
                    fail_on_missing_cache,
                )
    except (IBError, JobFailed) as exc:
        # Gateway unreachable / dropped for good, cache or permission trouble: recorded.
        ctx = RunContext(cfg, task, d, slot)
        ctx.ledger.record_missed(task, d, slot, f"slot_retry_exceeded: {exc}")
        return ctx.finish(JobResult(task, "failed", message=str(exc)))


async def _run_connected(
    cfg: AppConfig,
    layout: Layout,
    ib: IBSession,
    task: str,
    view: str,
    d: date,
    slot: str,
    entries: Sequence[UniverseEntry],
    ov: SnapshotOverrides,
    params: EngineParams,
    progress: bool,
    mdt: int,
    fail_on_missing_cache: bool,
) -> JobResult:
    caches, cache_status = await prepare_caches(
        ib, cfg, layout, entries, d, rebuild=not fail_on_missing_cache
    )
    prices: dict[str, float | None] = {}
    for entry in entries:
        cache = caches[entry.symbol]
        fresh = cache_status[entry.symbol].startswith("rebuilt")
        prices[entry.symbol] = (
            cache.reference_price
            if fresh
            else await reference_price(
                ib, cache.underlying, allow_delayed=cfg.acquisition.allow_fallback_to_delayed
            )
        )
    plan = {
        e.symbol: pick_contracts(caches[e.symbol], prices[e.symbol], ov.strikes) for e in entries
    }
    total = sum(len(v) for v in plan.values())
    if ov.dry_run:
        details = {
            "slot": slot,
            "view": view,
            "contracts": {s: len(v) for s, v in plan.items()},
            "cache": cache_status,
            "reference_prices": prices,
        }
        return JobResult(
            task, "ok", total=total, message=f"dry run: {total} contracts planned", details=details
        )

    lock_name = f"{task}_{d.isoformat()}_{slot_file_label(slot)}"
    with SlotLock(layout.run_locks(), lock_name):
        ctx = RunContext(cfg, task, d, slot)
        try:
            return await _collect(
                cfg,
                layout,
                ib,
                ctx,
                task,
                view,
                d,
                slot,
                caches,
                cache_status,
                prices,
                plan,
                ov,
                params,
                progress,
                mdt,
            )
        except (IBError, JobFailed) as exc:
            ctx.ledger.record_missed(task, d, slot, f"slot_retry_exceeded: {exc}")
            return ctx.finish(JobResult(task, "failed", total=total, message=str(exc)))
        except Exception as exc:
            return ctx.crashed(exc)


async def _collect(
    cfg: AppConfig,
    layout: Layout,
    ib: IBSession,
    ctx: RunContext,
    task: str,
    view: str,
    d: date,
    slot: str,
    caches: dict[str, ContractCache],
    cache_status: dict[str, str],
    prices: dict[str, float | None],
    plan: dict[str, list[OptionContract]],
    ov: SnapshotOverrides,
    params: EngineParams,
    progress: bool,
    mdt: int,
) -> JobResult:
    for sym, status in cache_status.items():
        if status != "ok":
            save_cache(layout, caches[sym])
    for sym in plan:
        remove_tmp_files(layout.underlying_dir(view, d, sym))
    chain, done_syms = _resume_state(layout, task, view, d, slot)
    chain = [r for r in chain if r != ctx.run_id]
    ingest_id = ctx.run_id
    kept: dict[str, list[dict[str, Any]]] = {}
    for sym in plan:
        existing = read_table(layout.chain_file(view, d, sym, slot))
        if existing is None:
            continue
        file_ingest = str(existing.column("ingest_id")[0].as_py()) if existing.num_rows else None
        if chain and file_ingest in chain and sym not in done_syms:
            # Written by the interrupted run, which was killed before it could record the
            # file in the ledger: the file is complete (atomic), so record it now.
            rec = write_chain_record(layout, view, d, sym, slot, existing)
            ctx.ledger.record_partition(rec, file_ingest)
            done_syms.add(sym)
        if sym in done_syms and file_ingest:
            ingest_id = file_ingest
        if ov.retry_missed:
            kept[sym] = [
                r
                for r in existing.to_pylist()
                if not set(r["data_quality_flags"]) & set(RETRY_FLAGS)
            ]
    for run_id in chain:
        ctx.ledger.finish_run(
            run_id, "failed", error_summary=f"{INTERRUPTED}; resumed by {ctx.run_id}"
        )
    skip = done_syms if chain else set()
    todo: dict[str, list[OptionContract]] = {}
    for sym, contracts in plan.items():
        if sym in skip:
            continue
        have = {r["conid"] for r in kept.get(sym, [])}
        todo[sym] = [c for c in contracts if c.conid not in have]
    total = sum(len(v) for v in todo.values())
    ctx.runlog.event(
        "plan",
        ingest_id=ingest_id,
        contracts=total,
        skipped_underlyings=sorted(skip),
        cache=cache_status,
        retry_missed=ov.retry_missed,
    )
    sample_time = slot_datetime(d, slot).astimezone(UTC)
    row_ctx = {
        sym: RowContext(
            d, slot, sample_time, ingest_id, sym, caches[sym].underlying.conid, prices[sym]
        )
        for sym in todo
    }
    for sym in todo:
        append_jsonl(
            layout.reference_prices_file(d),
            {
                "trade_date": d.isoformat(),
                "slot": slot,
                "symbol": sym,
                "reference_price": prices[sym],
                "ingest_id": ingest_id,
            },
        )
    run = _SnapshotRun(cfg, layout, ctx, view, d, slot)
    writer = _UnderlyingWriter(run, {s: len(v) for s, v in todo.items()}, kept)
    for sym, n in list(writer.expected.items()):
        if n == 0:
            writer.flush(sym)  # retry with nothing missing: rewrite as is (keeps the file exact)
    bar = Progress(f"{task} {d} {slot}", total, enabled=progress)
    stats = {"timed_out": 0, "no_permission": 0}

    def on_result(res: Collected) -> None:
        sym = res.contract.symbol
        rc = (
            row_ctx[sym]
            if not res.delayed_fallback
            else replace(row_ctx[sym], delayed_fallback=True)
        )
        writer.add(
            sym,
            build_row(
                res.contract,
                res.quote,
                rc,
                timed_out=res.timed_out,
                no_permission=res.no_permission,
                missing_reason=res.missing_reason,
            ),
        )
        bar.advance()

    engine = SnapshotEngine(ib, params, on_result, market_data_type=mdt)
    ordered = [c for sym in todo for c in todo[sym]]
    try:
        report = await engine.run(ordered)
    finally:
        bar.close()
        await writer.drain()
    for c in report.not_collected:
        row = build_row(c, None, row_ctx[c.symbol], missing_reason=S.FLAG_SLOT_RETRY_EXCEEDED)
        row["data_quality_flags"].append(S.FLAG_SLOT_RETRY_EXCEEDED)
        writer.add(c.symbol, row)
    await writer.drain()
    stats["timed_out"], stats["no_permission"] = report.timed_out, report.no_permission
    rows = sum(writer.written.values())
    succeeded = report.completed
    failed = total - succeeded
    details = {
        "ingest_id": ingest_id,
        "view": view,
        "slot": slot,
        "underlyings": sorted(writer.written),
        "skipped_underlyings": sorted(skip),
        "timed_out": report.timed_out,
        "no_permission": report.no_permission,
        "no_definition": report.no_definition,
        "delayed_fallback": report.delayed_fallback,
        "pacing_events": report.pacing_events,
        "rate_limit_events": report.rate_limit_events,
        "line_limit_events": report.line_limit_events,
        "reconnects": report.reconnects,
        "messages": report.messages,
        "error_codes": report.error_codes,
        "not_collected": len(report.not_collected),
        "cache": cache_status,
    }

    def done(status: str, msg: str) -> JobResult:
        return ctx.finish(
            JobResult(
                task,
                status,
                rows=rows,
                total=total,
                succeeded=succeeded,
                failed=failed,
                message=msg,
                details=details,
            )
        )

    if report.retry_exceeded or report.not_collected:
        ctx.ledger.record_missed(task, d, slot, S.FLAG_SLOT_RETRY_EXCEEDED)
        return done(
            "partial",
            f"{S.FLAG_SLOT_RETRY_EXCEEDED}: {len(report.not_collected)} contracts queued for --retry-missed",
        )
    if report.no_permission and not cfg.acquisition.allow_fallback_to_delayed:
        syms = sorted({s for s in todo})
        return done(
            "failed",
            f"no market data permission for {report.no_permission} contracts of {', '.join(syms)} and "
            "acquisition.allow_fallback_to_delayed is off",
        )
    status = "ok" if failed == 0 else ("partial" if succeeded else "failed")
    msg = f"{rows} rows in {len(writer.written)} files; {succeeded}/{total} contracts complete"
    if report.timed_out:
        msg += f", {report.timed_out} timed out"
    return done(status, msg)
