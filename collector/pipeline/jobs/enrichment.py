"""Next-day open-interest enrichment of daily_clean (streaming generic tick 101).

OI that IB reports before the open of session D+1 is the OI at the close of D, so rows
of trade date D get `oi_asof_date = D`. Updates are keyed by (trade_date, conid) and are
idempotent; a contract still missing after `max_consecutive_failures` runs is flagged
`oi_enrichment_failed`.
"""

from __future__ import annotations

import json
import logging
from datetime import date
from typing import Any

from collector.ib import IBError, IBSession, OptionContract
from collector.pipeline.engine import Collected, EngineParams, SnapshotEngine
from collector.pipeline.errors import InputError
from collector.pipeline.progress import Progress
from collector.pipeline.rollup import apply_open_interest, expired_on
from collector.pipeline.run import JobResult, RunContext, as_date, connected, session_for
from collector.pipeline.sentinels import open_interest_of
from collector.pipeline.store import read_table, write_chains
from shared import datafs
from shared.config import AppConfig
from shared.schema import MarketDataType
from shared.storage import Layout, atomic_write_json
from shared.tasks import Task
from shared.universe import Shard

log = logging.getLogger(__name__)
SUPPORTED_FIELDS = ("open_interest",)
LIVE = MarketDataType.LIVE


def _failures_file(layout: Layout, trade_date: date) -> Any:
    return layout.state / "enrichment" / f"oi_failures_{trade_date:%Y%m%d}.json"


def _contract_of(row: dict[str, Any]) -> OptionContract:
    return OptionContract(
        conid=int(row["conid"]),
        symbol=str(row["underlying"]),
        expiry=row["expiry"],
        strike=float(row["strike"]),
        right=str(row["right"]),
        multiplier=row.get("multiplier"),
        exchange="SMART",
        currency=str(row.get("currency") or "USD"),
        local_symbol=str(row.get("local_symbol") or ""),
        trading_class=str(row.get("trading_class") or ""),
        underlying_conid=row.get("underlying_conid"),
    )


async def run_enrichment(
    cfg: AppConfig,
    trade_date: date | str,
    fields: tuple[str, ...] | list[str] = ("open_interest",),
    *,
    session: IBSession | None = None,
    progress: bool = True,
) -> JobResult:
    d = as_date(trade_date)
    session_for(d)
    bad = [f for f in fields if f not in SUPPORTED_FIELDS]
    if bad or not fields:
        raise InputError(
            f"unsupported enrichment field(s): {', '.join(bad) or '(none)'}; supported: open_interest"
        )
    layout = Layout.from_config(cfg)
    files = [
        e.path
        for e in datafs.list_files(layout.date_dir("daily_clean", d), "part.parquet")
        if e.path.parent.name.startswith("underlying=")
    ]
    if not files:
        raise InputError(f"no daily_clean data for {d}: run `opt-data rollup --date {d}` first")
    shard = Shard.from_config(cfg)  # each shard enriches its own symbols
    tables = {
        sym: read_table(f) for f in files if shard.holds(sym := f.parent.name.split("=", 1)[1])
    }
    ctx = RunContext(cfg, Task.ENRICHMENT, d)
    try:
        return await _enrich(cfg, layout, ctx, d, tables, session, progress)
    except IBError as exc:
        return ctx.finish(JobResult(Task.ENRICHMENT, "failed", message=str(exc)))
    except Exception as exc:
        return ctx.crashed(exc)


async def _enrich(
    cfg: AppConfig,
    layout: Layout,
    ctx: RunContext,
    d: date,
    tables: dict[str, Any],
    session: IBSession | None,
    progress: bool,
) -> JobResult:
    todo: list[OptionContract] = []
    expired = 0
    for table in tables.values():
        for row in table.to_pylist():
            if row.get("oi_asof_date") is not None:
                continue
            if expired_on(row, d):  # IB no longer knows it (error 200): never asked
                expired += 1
                continue
            todo.append(_contract_of(row))
    found: dict[int, int] = {}
    # a universe's contracts at IB's pace take many minutes: show done/total, rate, ETA
    bar = Progress(f"{Task.ENRICHMENT} {d}", len(todo), enabled=progress and bool(todo))

    def on_result(res: Collected) -> None:
        if res.quote is not None:
            oi = open_interest_of(res.quote, res.contract.right)
            if oi is not None:
                found[res.contract.conid] = oi
        bar.advance()

    report = None
    if todo:
        params = EngineParams(
            generic_ticks="101",
            max_lines=cfg.snapshot.max_lines,
            max_messages_per_sec=cfg.ib.max_messages_per_sec,
            timeout_sec=cfg.enrichment.timeout_sec,
            poll_interval=cfg.snapshot.subscription_poll_interval,
            require_greeks=False,
            require_open_interest=True,
            allow_delayed_fallback=False,
            pacing_backoff_sec=tuple(float(x) for x in cfg.acquisition.pacing_backoff_sec),
        )
        try:
            async with connected(cfg, session, market_data_type=LIVE) as ib:
                with ib.market_data_type_as(LIVE):
                    engine = SnapshotEngine(ib, params, on_result, market_data_type=LIVE)
                    report = await engine.run(todo)
        finally:
            bar.close()
    fail_path = _failures_file(layout, d)
    failures: dict[int, int] = {}
    if fail_path.is_file():
        failures = {int(k): int(v) for k, v in json.loads(fail_path.read_text()).items()}
    for c in todo:
        failures[c.conid] = 0 if c.conid in found else failures.get(c.conid, 0) + 1
    failures = {k: v for k, v in failures.items() if v > 0}
    updated = {
        sym: apply_open_interest(table, found, d, failures, cfg.enrichment.max_consecutive_failures)
        for sym, table in tables.items()
    }
    # every underlying's file in one atomic batch (all replaced or none), one ledger commit
    write_chains(cfg, layout, ctx.ledger, "daily_clean", d, updated, ctx.run_id)
    rows = sum(t.num_rows for t in updated.values())
    atomic_write_json(fail_path, {str(k): v for k, v in sorted(failures.items())})
    missing = len(todo) - len(found)
    flagged = sum(1 for v in failures.values() if v >= cfg.enrichment.max_consecutive_failures)
    details = {
        "asof_date": d.isoformat(),
        "requested": len(todo),
        "filled": len(found),
        "missing": missing,
        "oi_enrichment_failed": flagged,
        "expired_skipped": expired,
        "error_codes": report.error_codes if report else {},
    }
    status = "ok" if missing == 0 else ("partial" if found else "failed")
    msg = f"open_interest filled for {len(found)}/{len(todo)} contracts (as of {d})"
    return ctx.finish(
        JobResult(
            Task.ENRICHMENT,
            status,
            rows=rows,
            total=len(todo),
            succeeded=len(found),
            failed=missing,
            message=msg,
            details=details,
        )
    )
