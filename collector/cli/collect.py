"""Collection commands: snapshot, close-snapshot, rollup, enrichment, history.

Each command calls one job of collector.pipeline.jobs with asyncio.run. Exit codes:
0 ok, or partial at or above qa.slot_coverage_min (flags say what is missing);
1 the job failed, ended slot_retry_exceeded, collected below the coverage gate, lost a
symbol to a discovery failure or met a corrupt file (collector.pipeline.run.problem_level);
2 bad input (one line on stderr, nothing written). Runs that exit 1 also alert.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from collector.cli.common import (
    EXIT_FAILURE,
    ConfigOption,
    ShardOption,
    fail,
    load_cfg,
    setup_logging,
)
from shared.calendar import RELATIVE_DATES, parse_trade_date
from shared.tasks import Task

if TYPE_CHECKING:  # the jobs (pyarrow, polars, ib_async) load when a command runs, not for --help
    from collector.pipeline.run import JobResult
    from shared.config import AppConfig

DateOption = typer.Option(
    "today", "--date", help=f"Trade date (ET): YYYY-MM-DD or {RELATIVE_DATES}."
)
SymbolsOption = typer.Option(None, "--symbols", help="Comma list (default: the universe file).")
LogLevelOption = typer.Option("WARNING", "--log-level", help="DEBUG, INFO, WARNING, ERROR.")


def _run(cfg: AppConfig, task: str, make: Callable[[], Any]) -> Any:
    """Run a job; map bad input to exit 2, job failures to exit 1, log crashes with stack."""
    import asyncio  # here, not at the top: `opt-data --help` never needs it

    from collector.pipeline.errors import InputError, JobFailed
    from collector.pipeline.runlog import log_unhandled
    from shared.ledger import LedgerError
    from shared.storage import Layout

    try:
        out = make()
        if asyncio.iscoroutine(out):
            return asyncio.run(out)
        return out
    except InputError as exc:
        fail(str(exc))
    except (JobFailed, LedgerError) as exc:
        fail(str(exc), code=EXIT_FAILURE)
    except Exception as exc:
        log_unhandled(Layout.from_config(cfg), task, None, exc)
        fail(
            f"{task} crashed: {type(exc).__name__}: {exc} (stack in the errors log)",
            code=EXIT_FAILURE,
        )


def _not_before(cfg: AppConfig, task: str, date_text: str, slot: str | None = None) -> None:
    """Exit 2 when the data `task` would make cannot exist yet (shared.due.too_early): a
    slot by hand before its time, a close or a daily roll-up before the close, open interest
    before the next session's morning. A bad date or slot is left to the job, which names it."""
    from shared.due import too_early_on

    try:
        why = too_early_on(cfg, task, parse_trade_date(date_text), slot)
    except ValueError:
        return
    if why:
        fail(why)


def _logging(level: str) -> None:
    """Our own lines only at WARNING and above: the client library logs every IB error
    itself (we classify them and keep them in the run log), which would bury the one line."""
    setup_logging(level)
    if logging.getLogger().getEffectiveLevel() >= logging.WARNING:
        logging.getLogger("ib_async").setLevel(logging.CRITICAL)
        logging.getLogger("ib_insync").setLevel(logging.CRITICAL)


def exits_nonzero(cfg: AppConfig, result: JobResult) -> bool:
    """Failed, slot_retry_exceeded, or partial below qa.slot_coverage_min: exit 1."""
    from collector.pipeline.run import problem_level

    return problem_level(cfg, result) == "ERROR"


def _report(cfg: AppConfig, result: JobResult, as_json: bool, where: str = "") -> None:
    from collector.ops.alerts import alert_job

    if as_json:
        typer.echo(
            json.dumps({k: getattr(result, k) for k in result.__dataclass_fields__}, default=str)
        )
    else:
        run = f" (run {result.run_id})" if result.run_id else ""
        typer.echo(f"{result.task}: {result.status} - {result.message}{run}")
    if result.run_id is not None:  # a dry run has no run and alerts nobody
        alert_job(cfg, result, where or result.task)
    if exits_nonzero(cfg, result):
        raise typer.Exit(EXIT_FAILURE)


def _split(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    return tuple(p.strip().upper() for p in text.split(",") if p.strip())


def snapshot(
    date: str = DateOption,
    slot: str | None = typer.Option(None, "--slot", help="Slot HH:MM (ET) of the session."),
    symbols: str | None = SymbolsOption,
    config: Path = ConfigOption,
    shard: str | None = ShardOption,
    exchange: str | None = typer.Option(
        None, "--exchange", help="Routing exchange (default SMART)."
    ),
    fallback_exchanges: str | None = typer.Option(
        None, "--fallback-exchanges", help="Comma list tried when the exchange has no definition."
    ),
    strikes: int | None = typer.Option(
        None, "--strikes", min=1, help="Strikes per side of the price."
    ),
    ticks: str | None = typer.Option(None, "--ticks", help="Generic tick list, e.g. 100,101,106."),
    timeout: float | None = typer.Option(
        None, "--timeout", min=0.01, help="Per-contract timeout (s)."
    ),
    poll_interval: float | None = typer.Option(
        None, "--poll-interval", min=0.001, help="Poll interval (s)."
    ),
    retry_missed: bool = typer.Option(
        False, "--retry-missed", help="Collect only what the slot lacks."
    ),
    replay_missed: bool = typer.Option(
        False, "--replay-missed", help="Re-collect every slot of the date in the retry queue."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan; write nothing."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    log_level: str = LogLevelOption,
) -> None:
    """Collect one slot of option-chain snapshots (view=intraday)."""
    from collector.ops.alerts import alert_job
    from collector.pipeline.jobs.snapshot import run_snapshot
    from collector.pipeline.retry import missed_slots
    from collector.pipeline.run import as_date
    from collector.pipeline.snapshot_plan import SnapshotOverrides
    from shared.storage import Layout

    _logging(log_level)
    cfg = load_cfg(config, shard)
    if ticks is not None and ticks and not all(t.strip().isdigit() for t in ticks.split(",")):
        fail(f"--ticks must be a comma list of generic tick ids, got {ticks!r}")
    ov = SnapshotOverrides(
        exchange=exchange.upper() if exchange else None,
        fallback_exchanges=_split(fallback_exchanges),
        strikes=strikes,
        ticks=ticks,
        timeout=timeout,
        poll_interval=poll_interval,
        retry_missed=retry_missed or replay_missed,
        dry_run=dry_run,
    )
    if replay_missed:
        day = _run(cfg, Task.SNAPSHOT, lambda: as_date(date))
        from shared.universe import Shard

        label = Shard.from_config(cfg).label
        slots = missed_slots(Layout.from_config(cfg), day, Task.SNAPSHOT, label)
        if slot is not None:
            slots = [s for s in slots if s == slot]
        if not slots:
            typer.echo(f"snapshot: nothing in the retry queue for {day}")
            return
        worst = "ok"
        for s in slots:
            job = functools.partial(run_snapshot, cfg, day, s, symbols, overrides=ov)
            result = _run(cfg, Task.SNAPSHOT, job)
            typer.echo(f"{result.task} {s}: {result.status} - {result.message}")
            alert_job(cfg, result, f"{result.task} {day} {s}")
            worst = "failed" if exits_nonzero(cfg, result) else worst
        if worst == "failed":
            raise typer.Exit(EXIT_FAILURE)
        return
    if slot is None:
        fail("snapshot needs --slot HH:MM (or --replay-missed)")
    if not dry_run:  # a plan of a later slot writes nothing and stays allowed
        _not_before(cfg, Task.SNAPSHOT, date, slot)
    result = _run(cfg, Task.SNAPSHOT, lambda: run_snapshot(cfg, date, slot, symbols, overrides=ov))
    if dry_run and not as_json:
        for line in result.details.get("plan", []):
            typer.echo(f"  {line}")
    _report(cfg, result, as_json, f"{Task.SNAPSHOT} {date} {slot}")


def close_snapshot(
    date: str = DateOption,
    symbols: str | None = SymbolsOption,
    config: Path = ConfigOption,
    shard: str | None = ShardOption,
    fail_on_missing_cache: bool = typer.Option(
        False, "--fail-on-missing-cache", help="Do not rebuild a missing/empty contract cache."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    log_level: str = LogLevelOption,
) -> None:
    """Collect the session's close (view=close, market data type 2, real last slot)."""
    from collector.pipeline.jobs.close import run_close_snapshot

    _logging(log_level)
    cfg = load_cfg(config, shard)
    _not_before(cfg, Task.CLOSE_SNAPSHOT, date)
    result = _run(
        cfg,
        Task.CLOSE_SNAPSHOT,
        lambda: run_close_snapshot(cfg, date, symbols, fail_on_missing_cache=fail_on_missing_cache),
    )
    _report(cfg, result, as_json, f"{Task.CLOSE_SNAPSHOT} {date}")


def rollup(
    date: str = DateOption,
    config: Path = ConfigOption,
    shard: str | None = ShardOption,
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    log_level: str = LogLevelOption,
) -> None:
    """Build view=daily_clean from the close view (and intraday fallback)."""
    from collector.pipeline.jobs.rollup import run_rollup

    _logging(log_level)
    cfg = load_cfg(config, shard)
    _not_before(cfg, Task.ROLLUP, date)
    _report(cfg, _run(cfg, Task.ROLLUP, lambda: run_rollup(cfg, date)), as_json)


def enrichment(
    date: str = DateOption,
    fields: str = typer.Option(
        "open_interest", "--fields", help="Comma list; supported: open_interest."
    ),
    config: Path = ConfigOption,
    shard: str | None = ShardOption,
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    log_level: str = LogLevelOption,
) -> None:
    """Next session day: fill open_interest (tick 101) into daily_clean of --date."""
    from collector.pipeline.jobs.enrichment import run_enrichment

    _logging(log_level)
    cfg = load_cfg(config, shard)
    names = tuple(f.strip() for f in fields.split(",") if f.strip())
    _not_before(cfg, Task.ENRICHMENT, date)
    _report(cfg, _run(cfg, Task.ENRICHMENT, lambda: run_enrichment(cfg, date, names)), as_json)


def history(
    symbols: str | None = SymbolsOption,
    days: int = typer.Option(30, "--days", help="Days of daily bars."),
    force_refresh: bool = typer.Option(
        False, "--force-refresh", help="Re-qualify the underlying and fetch the full range again."
    ),
    config: Path = ConfigOption,
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    log_level: str = LogLevelOption,
) -> None:
    """Daily bars built from 8-hour bars (clean/ib/history/bar=1d)."""
    from collector.pipeline.jobs.history import run_history

    _logging(log_level)
    cfg = load_cfg(config)
    result = _run(
        cfg, Task.HISTORY, lambda: run_history(cfg, symbols, days, force_refresh=force_refresh)
    )
    _report(cfg, result, as_json)


def register(app: typer.Typer) -> None:
    app.command("snapshot")(snapshot)
    app.command("close-snapshot")(close_snapshot)
    app.command("rollup")(rollup)
    app.command("enrichment")(enrichment)
    app.command("history")(history)
