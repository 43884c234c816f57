"""Daily history per underlying, built from 8-hour bars within IB's historical pacing."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from collector.ib import IBError, IBSession
from collector.ib.bars import historical_bars
from collector.ib.types import Bar, UnderlyingRef
from collector.pipeline.daily_bars import HistoricalPacer, daily_from_bars, merge_history
from collector.pipeline.discovery import resolve_underlying
from collector.pipeline.errors import InputError
from collector.pipeline.progress import Progress
from collector.pipeline.run import JobResult, RunContext, connected
from collector.pipeline.store import read_table, write_history
from collector.pipeline.universe import resolve_symbols
from shared.calendar import today_et
from shared.config import AppConfig
from shared.storage import Layout
from shared.tasks import Task

log = logging.getLogger(__name__)
MAX_DAYS = 3650


async def run_history(
    cfg: AppConfig,
    symbols: str | list[str] | None,
    days: int,
    *,
    force_refresh: bool = False,
    session: IBSession | None = None,
    progress: bool = True,
) -> JobResult:
    if not 1 <= days <= MAX_DAYS:
        raise InputError(f"--days must be between 1 and {MAX_DAYS}, got {days}")
    entries = resolve_symbols(cfg, symbols, "intraday")
    today = today_et()
    layout = Layout.from_config(cfg)
    pacer = HistoricalPacer()
    ctx: RunContext | None = None
    try:
        async with connected(cfg, session) as ib:
            refs = {}
            for e in entries:
                # --force-refresh re-qualifies the underlying instead of trusting the universe conid.
                entry = replace(e, conid=None) if force_refresh else e
                refs[e.symbol] = await resolve_underlying(ib, entry)
            ctx = RunContext(cfg, Task.HISTORY, today)
            rows_total, done, kept = 0, [], []
            # IB paces historical requests (60 per 10 min): a large universe takes a while
            bar = Progress(f"{Task.HISTORY} {today}", len(entries), enabled=progress,
                           unit="symbols")  # fmt: skip
            for e in entries:
                ref = refs[e.symbol]
                # Read the stored bars even on --force-refresh: a refresh replaces the days IB
                # answers, it never shrinks the file because IB answered nothing (error 162).
                existing = read_table(layout.history_file(e.symbol))
                want = days
                if not force_refresh and existing is not None and existing.num_rows:
                    last = max(existing.column("bar_date").to_pylist())
                    want = min(days, max(1, (today - last).days + 1))
                bars = await _fetch(ib, cfg, ref, want, pacer)
                new_rows = daily_from_bars(
                    e.symbol, ref.conid, bars, cfg.history.bar_size, ctx.run_id
                )
                if not new_rows:
                    stored = existing.num_rows if existing is not None else 0
                    kept.append(f"{e.symbol} (kept {stored} stored bars)")
                    ctx.runlog.event("no_bars", underlying=e.symbol, kept_rows=stored)
                    bar.advance()
                    continue
                table = merge_history(existing, new_rows)
                write_history(cfg, layout, ctx.ledger, e.symbol, table, ctx.run_id, today)
                ctx.runlog.event(
                    "partition",
                    underlying=e.symbol,
                    rows=table.num_rows,
                    new_days=len(new_rows),
                    source_bars=len(bars),
                )
                rows_total += len(new_rows)
                done.append(e.symbol)
                bar.advance()
            bar.close()
            status = "ok" if not kept else ("partial" if done else "failed")
            message = f"{rows_total} daily bars for {', '.join(done) or 'no symbol'}"
            if kept:
                message += f"; IB returned no bars for {', '.join(kept)}"
            return ctx.finish(
                JobResult(
                    Task.HISTORY,
                    status,
                    rows=rows_total,
                    total=len(entries),
                    succeeded=len(done),
                    failed=len(entries) - len(done),
                    message=message,
                    details={
                        "symbols": done,
                        "no_bars": kept,
                        "days": days,
                        "force_refresh": force_refresh,
                    },
                )
            )
    except IBError as exc:
        ctx = ctx or RunContext(cfg, Task.HISTORY, today)
        return ctx.finish(JobResult(Task.HISTORY, "failed", message=str(exc)))
    except InputError:
        raise
    except Exception as exc:
        ctx = ctx or RunContext(cfg, Task.HISTORY, today)
        return ctx.crashed(exc)


async def _fetch(
    ib: IBSession, cfg: AppConfig, ref: UnderlyingRef, days: int, pacer: HistoricalPacer
) -> list[Bar]:
    """`days` of bars, newest first, in chunks of history.max_days_per_request."""
    h = cfg.history
    bars: list[Bar] = []
    end: datetime | str = ""
    remaining = days
    while remaining > 0:
        chunk = min(remaining, h.max_days_per_request)
        await pacer.wait()
        got = await historical_bars(
            ib,
            ref,
            end=end,
            duration=f"{chunk} D",
            bar_size=h.bar_size,
            what_to_show=h.what_to_show,
            use_rth=h.use_rth,
            timeout=cfg.ib.request_timeout_sec * 2,
        )
        if not got:
            break
        bars.extend(got)
        starts = [b.start for b in got if isinstance(b.start, datetime)]
        if not starts:
            break
        end = min(starts).astimezone(UTC) - timedelta(seconds=1)
        remaining -= chunk
    return bars
