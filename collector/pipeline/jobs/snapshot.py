"""`opt-data snapshot` (intraday slots; `close-snapshot` reuses it): caches -> engine -> files.

Crash safety: each underlying's file is written atomically the moment its last contract
is released, and recorded in the ledger (collector.pipeline.slot_writer); a killed run is
resumed by the next run of its slot (collector.pipeline.resume).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date
from typing import Any

from collector.ib import IBError, IBSession, OptionContract
from collector.ib.contracts import reference_price
from collector.lock import LockHeld, RunLock
from collector.pipeline.discovery import CacheError, ContractCache, load_cache, save_cache
from collector.pipeline.engine import Collected, EngineParams, EngineReport, SnapshotEngine
from collector.pipeline.errors import InputError, JobFailed
from collector.pipeline.progress import Progress
from collector.pipeline.resume import Resume, resume_slot
from collector.pipeline.rows import RowContext, build_row
from collector.pipeline.run import (
    JobResult,
    Run,
    RunContext,
    as_date,
    check_slot,
    connected,
    session_for,
)
from collector.pipeline.slot_writer import SlotWriter
from collector.pipeline.snapshot_plan import (
    SnapshotOverrides,
    discovery_problems,
    engine_params,
    is_midday_slot,
    midday_refresh,
    overrides_from,
    pick_contracts,
    prepare_caches,
)
from collector.pipeline.store import remove_tmp_files
from collector.pipeline.throughput import throughput_summary
from collector.pipeline.universe import UniverseEntry, resolve_symbols
from shared import schema as S
from shared.calendar import slot_datetime
from shared.config import AppConfig
from shared.schema import MarketDataType
from shared.storage import Layout, append_jsonl
from shared.tasks import Task

log = logging.getLogger(__name__)
# After the close IB serves the last recorded values only as frozen data (type 2).
CLOSE_MARKET_DATA_TYPE = MarketDataType.FROZEN


@dataclass(frozen=True)
class SlotPlan:
    """What one slot will collect: each underlying's cache, reference price and contracts."""

    caches: dict[str, ContractCache]
    cache_status: dict[str, str]
    prices: dict[str, float | None]
    contracts: dict[str, list[OptionContract]]

    @property
    def total(self) -> int:
        return sum(len(v) for v in self.contracts.values())


async def run_snapshot(
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
    """One slot of streaming snapshots -> raw/ib/chain/view=<view>/.../slot=HHMM.parquet."""
    run = _validated_run(cfg, trade_date, slot, view)
    entries = resolve_symbols(cfg, symbols, view)
    ov = overrides_from(overrides)
    if ov.dry_run:
        return _dry_run(run, entries, ov)
    params = engine_params(cfg, ov)
    try:
        async with connected(
            cfg,
            session,
            market_data_type=run.market_data_type,
            max_messages_per_sec=params.max_messages_per_sec,
        ) as ib:
            with ib.market_data_type_as(run.market_data_type):
                plan = await _plan_slot(run, ib, entries, ov, rebuild=not fail_on_missing_cache)
                return await _locked(run, ib, plan, ov, params, progress)
    except (IBError, JobFailed) as exc:
        # Gateway unreachable / dropped for good, cache or permission trouble: recorded.
        ctx = RunContext(cfg, run.task, run.trade_date, run.slot)
        ctx.ledger.record_missed(
            run.task, run.trade_date, run.slot, f"slot_retry_exceeded: {exc}", shard=ctx.shard
        )
        return ctx.finish(JobResult(run.task, "failed", message=str(exc)))


def _validated_run(cfg: AppConfig, trade_date: date | str, slot: str | None, view: str) -> Run:
    d = as_date(trade_date)
    xnys = session_for(d)
    if view == "close":
        # the real last slot of the session, early closes included
        label = xnys.slots(cfg.schedule.slot_interval_minutes)[-1]
        task, mdt = Task.CLOSE_SNAPSHOT, CLOSE_MARKET_DATA_TYPE
    elif view == "intraday":
        if slot is None:
            raise InputError("snapshot needs --slot HH:MM")
        label = check_slot(cfg, xnys, slot)
        task, mdt = Task.SNAPSHOT, MarketDataType(cfg.ib.market_data_type)
    else:
        raise InputError(f"view must be intraday or close, got {view!r}")
    return Run(cfg, Layout.from_config(cfg), task, view, d, label, mdt)


async def _plan_slot(
    run: Run,
    ib: IBSession,
    entries: Sequence[UniverseEntry],
    ov: SnapshotOverrides,
    *,
    rebuild: bool,
) -> SlotPlan:
    caches, status = await prepare_caches(
        ib, run.cfg, run.layout, entries, run.trade_date, rebuild=rebuild
    )
    cfg = run.cfg
    if cfg.discovery.midday_refresh_enabled and run.view == "intraday":
        slots = session_for(run.trade_date).slots(
            cfg.schedule.slot_interval_minutes, cfg.schedule.extra_slots
        )
        if is_midday_slot(slots, run.slot):
            await midday_refresh(ib, cfg, entries, caches, status, run.trade_date)
    prices: dict[str, float | None] = {}
    entries = [e for e in entries if e.symbol in caches]  # the others failed discovery
    for entry in entries:
        cache = caches[entry.symbol]
        if status[entry.symbol].startswith("rebuilt"):
            prices[entry.symbol] = cache.reference_price  # discovery just priced it
        else:
            allow = run.cfg.acquisition.allow_fallback_to_delayed
            prices[entry.symbol] = await reference_price(ib, cache.underlying, allow_delayed=allow)
    contracts = {
        e.symbol: pick_contracts(caches[e.symbol], prices[e.symbol], ov.strikes) for e in entries
    }
    return SlotPlan(caches, status, prices, contracts)


def _dry_run(run: Run, entries: Sequence[UniverseEntry], ov: SnapshotOverrides) -> JobResult:
    """The plan from the day's contract caches alone: no connection, no ledger row, no file.

    The cache's discovery-time reference price stands in for the live one (only --strikes
    uses it); a symbol without a usable cache is listed with what it would need.
    """
    contracts: dict[str, int] = {}
    needs: dict[str, str] = {}
    for entry in entries:
        try:
            cache = load_cache(run.layout, entry.symbol, run.trade_date)
        except CacheError as exc:
            needs[entry.symbol] = f"{exc}: the run would discover it first (needs the gateway)"
            continue
        contracts[entry.symbol] = len(pick_contracts(cache, cache.reference_price, ov.strikes))
    total = sum(contracts.values())
    lines = [f"{sym}: {n} contracts from the contract cache" for sym, n in contracts.items()]
    lines += [f"{sym}: {why}" for sym, why in needs.items()]
    details = {
        "slot": run.slot,
        "view": run.view,
        "market_data_type": int(run.market_data_type),
        "contracts": contracts,
        "needs_discovery": needs,
        "plan": lines,
    }
    message = f"dry run: {total} contracts planned for {run.trade_date} {run.slot} ({run.view})"
    if needs:
        message += f"; {len(needs)} symbol(s) need discovery first"
    return JobResult(run.task, "ok", total=total, message=message, details=details)


async def _locked(
    run: Run,
    ib: IBSession,
    plan: SlotPlan,
    ov: SnapshotOverrides,
    params: EngineParams,
    progress: bool,
) -> JobResult:
    try:
        lock = RunLock(run.layout.run_locks(), run.lock_name, command=f"{run.task} {run.slot}")
        lock.acquire()
    except LockHeld as exc:
        raise JobFailed(str(exc)) from None
    try:
        ctx = RunContext(run.cfg, run.task, run.trade_date, run.slot)
        try:
            return await _collect(run, ib, ctx, plan, ov, params, progress)
        except (IBError, JobFailed) as exc:
            ctx.ledger.record_missed(
                run.task, run.trade_date, run.slot, f"slot_retry_exceeded: {exc}", shard=ctx.shard
            )
            return ctx.finish(JobResult(run.task, "failed", total=plan.total, message=str(exc)))
        except Exception as exc:
            return ctx.crashed(exc)
    finally:
        lock.release()


async def _collect(
    run: Run,
    ib: IBSession,
    ctx: RunContext,
    plan: SlotPlan,
    ov: SnapshotOverrides,
    params: EngineParams,
    progress: bool,
) -> JobResult:
    for sym, status in plan.cache_status.items():
        if status != "ok" and sym in plan.caches:
            save_cache(run.layout, plan.caches[sym])
    for sym in plan.contracts:
        remove_tmp_files(run.underlying_dir(sym))
    resume = resume_slot(run, ctx, list(plan.contracts), ov.retry_missed)
    todo = resume.todo(plan.contracts)
    total = sum(len(v) for v in todo.values())
    ctx.runlog.event(
        "plan",
        ingest_id=resume.ingest_id,
        contracts=total,
        skipped_underlyings=sorted(resume.skip),
        cache=plan.cache_status,
        retry_missed=ov.retry_missed,
    )
    row_ctx = _row_contexts(run, plan, resume, todo)
    writer = SlotWriter(run, ctx, {s: len(v) for s, v in todo.items()}, resume.kept)
    bar = Progress(f"{run.task} {run.trade_date} {run.slot}", total, enabled=progress)

    def on_result(res: Collected) -> None:
        rc = row_ctx[res.contract.symbol]
        if res.delayed_fallback:
            rc = replace(rc, delayed_fallback=True)
        row = build_row(
            res.contract,
            res.quote,
            rc,
            timed_out=res.timed_out,
            no_permission=res.no_permission,
            missing_reason=res.missing_reason,
        )
        writer.add(res.contract.symbol, row)
        bar.advance()

    engine = SnapshotEngine(ib, params, on_result, market_data_type=run.market_data_type)
    try:
        report = await engine.run([c for sym in todo for c in todo[sym]])
    finally:
        bar.close()
        await writer.drain()
    for c in report.not_collected:
        row = build_row(c, None, row_ctx[c.symbol], missing_reason=S.FLAG_SLOT_RETRY_EXCEEDED)
        row["data_quality_flags"].append(S.FLAG_SLOT_RETRY_EXCEEDED)
        writer.add(c.symbol, row)
    await writer.drain()
    speed = throughput_summary(report.dwell_sec, report.collect_sec)
    return _finish(run, ctx, plan, resume, todo, writer, report, speed)


def _row_contexts(
    run: Run, plan: SlotPlan, resume: Resume, todo: dict[str, list[OptionContract]]
) -> dict[str, RowContext]:
    """Each underlying's row context, and its reference price in the day's jsonl."""
    sample_time = slot_datetime(run.trade_date, run.slot).astimezone(UTC)
    out: dict[str, RowContext] = {}
    for sym in todo:
        conid = plan.caches[sym].underlying.conid
        out[sym] = RowContext(
            run.trade_date,
            run.slot,
            sample_time,
            resume.ingest_id,
            sym,
            conid,
            plan.prices[sym],
            discovery_stale=plan.caches[sym].stale_from is not None,
        )
        append_jsonl(
            run.layout.reference_prices_file(run.trade_date),
            {
                "trade_date": run.trade_date.isoformat(),
                "slot": run.slot,
                "symbol": sym,
                "reference_price": plan.prices[sym],
                "ingest_id": resume.ingest_id,
            },
        )
    return out


def _finish(
    run: Run,
    ctx: RunContext,
    plan: SlotPlan,
    resume: Resume,
    todo: dict[str, list[OptionContract]],
    writer: SlotWriter,
    report: EngineReport,
    speed: dict[str, Any],
) -> JobResult:
    total = sum(len(v) for v in todo.values())
    rows = sum(writer.written.values())
    succeeded = report.completed
    failed = total - succeeded
    details = {
        "ingest_id": resume.ingest_id,
        "view": run.view,
        "slot": run.slot,
        "underlyings": sorted(writer.written),
        "skipped_underlyings": sorted(resume.skip),
        "timed_out": report.timed_out,
        "no_permission": report.no_permission,
        "no_definition": report.no_definition,
        "delayed_fallback": report.delayed_fallback,
        "pacing_events": report.pacing_events,
        "rate_limit_events": report.rate_limit_events,
        "line_limit_events": report.line_limit_events,
        "reconnects": report.reconnects,
        "messages": report.messages,
        # budget time no message used: lost to late wake-ups / idle (the last lines' dwell)
        "budget_late_sec": round(report.budget_late_sec, 3),
        "budget_idle_sec": round(report.budget_idle_sec, 3),
        "error_codes": report.error_codes,
        "not_collected": len(report.not_collected),
        "cache": plan.cache_status,
        "quarantined": resume.quarantined,
        "discovery_failed": discovery_problems(plan.cache_status),
        "throughput": speed,
    }

    def done(status: str, msg: str) -> JobResult:
        result = JobResult(
            run.task,
            status,
            rows=rows,
            total=total,
            succeeded=succeeded,
            failed=failed,
            message=msg,
            details=details,
        )
        return ctx.finish(result)

    if report.retry_exceeded or report.not_collected:
        ctx.ledger.record_missed(
            run.task, run.trade_date, run.slot, S.FLAG_SLOT_RETRY_EXCEEDED, shard=ctx.shard
        )
        return done(
            "partial",
            f"{S.FLAG_SLOT_RETRY_EXCEEDED}: {len(report.not_collected)} contracts queued for "
            "--retry-missed",
        )
    if report.no_permission and not run.cfg.acquisition.allow_fallback_to_delayed:
        return done(
            "failed",
            f"no market data permission for {report.no_permission} contracts of "
            f"{', '.join(sorted(todo))} and acquisition.allow_fallback_to_delayed is off",
        )
    status = "ok" if failed == 0 else ("partial" if succeeded else "failed")
    msg = f"{rows} rows in {len(writer.written)} files; {succeeded}/{total} contracts complete"
    problems = discovery_problems(plan.cache_status)
    if problems:
        msg += "; discovery failed: " + "; ".join(
            f"{sym} {why}" for sym, why in sorted(problems.items())
        )
    if resume.quarantined:
        msg += f"; replaced {len(resume.quarantined)} corrupt file(s), moved aside"
    if report.timed_out:
        msg += f", {report.timed_out} timed out"
    return done(status, msg)
