"""Operations commands: schedule, streaming, qa, selfcheck, logscan, retention, compact, demo."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from pathlib import Path

import typer

from collector.cli.common import EXIT_FAILURE, ConfigOption, fail, load_cfg, setup_logging
from shared.calendar import now_et, parse_trade_date, today_et
from shared.storage import Layout, check_symbol

DateOption = typer.Option("today", "--date", help="Trade date YYYY-MM-DD or 'today' (ET).")


def _date(text: str) -> date:
    try:
        return parse_trade_date(text)
    except ValueError as exc:
        fail(str(exc))


def _symbols(text: str | None) -> tuple[str, ...] | None:
    if not text:
        return None
    try:
        return tuple(dict.fromkeys(check_symbol(s) for s in text.split(",") if s.strip()))
    except ValueError as exc:
        fail(str(exc))


def schedule(
    config: Path = ConfigOption,
    simulate: bool = typer.Option(
        False, "--simulate", help="Print the plan, then run the day's tasks now."
    ),
    live: bool = typer.Option(
        False, "--live", help="Run the tasks at their ET times (APScheduler)."
    ),
    continuous: bool = typer.Option(
        False, "--continuous", help="With --live: re-plan every session at 09:20 ET."
    ),
    exit_when_idle: bool = typer.Option(
        False, "--exit-when-idle", help="With --live: exit after the day's last task."
    ),
    date_: str | None = typer.Option(
        None, "--date", help="Trade date (default today ET); not with --continuous."
    ),
    symbols: str | None = typer.Option(
        None, "--symbols", help="Comma-separated subset, e.g. AAPL,MSFT."
    ),
    fail_on_missing_cache: bool = typer.Option(
        False,
        "--fail-on-missing-cache",
        help="Stop instead of rebuilding a missing/empty contract cache.",
    ),
    log_level: str = typer.Option("INFO", "--log-level"),
) -> None:
    """Schedule a trading day: 30-min snapshots, close-snapshot, rollup, enrichment, checks."""
    from collector.ops.lock import LockHeld
    from collector.ops.schedule import ScheduleOptions, run_schedule
    from collector.ops.tasks import TaskExecutor

    if simulate == live:
        fail("choose exactly one of --simulate or --live")
    if (continuous or exit_when_idle) and not live:
        fail("--continuous and --exit-when-idle need --live")
    if continuous and date_:
        fail("--date does not apply to --continuous (it follows the calendar)")
    if continuous and exit_when_idle:
        fail("--continuous runs for weeks; it cannot be combined with --exit-when-idle")
    cfg = load_cfg(config)
    opts = ScheduleOptions(
        mode="simulate" if simulate else "live",
        trade_date=_date(date_) if date_ else None,
        symbols=_symbols(symbols),
        continuous=continuous,
        exit_when_idle=exit_when_idle,
        fail_on_missing_cache=fail_on_missing_cache,
    )
    setup_logging(log_level)
    executor = TaskExecutor(cfg, progress=simulate)

    def report(event: str, item, outcome) -> None:  # type: ignore[no-untyped-def]
        if event == "done" and outcome is not None:
            stamp = f"{now_et():%H:%M:%S}"
            typer.echo(f"[{stamp}] {item.label:<22} {outcome.status:<8} {outcome.message}")

    try:
        code = asyncio.run(run_schedule(cfg, opts, executor, typer.echo, report))
    except LockHeld as exc:
        fail(str(exc), EXIT_FAILURE)
    raise typer.Exit(code)


def qa(
    config: Path = ConfigOption,
    date_: str = DateOption,
    symbols: str | None = typer.Option(
        None, "--symbols", help="Symbols expected (default: the day's contract caches)."
    ),
) -> None:
    """Slot coverage, delayed ratio, rollup fallback, OI fill rate -> metrics_YYYYMMDD.json."""
    from collector.ops.selfcheck import compute_metrics, write_metrics

    day = _date(date_)
    syms = _symbols(symbols)
    cfg = load_cfg(config)
    metrics = compute_metrics(cfg, day, list(syms) if syms else None)
    path = write_metrics(cfg, metrics)
    doc = metrics.as_json()
    for key in ("slot_coverage", "delayed_ratio", "rollup_fallback_ratio", "oi_fill_rate"):
        value = doc[key]
        typer.echo(f"{key:<22} {'n/a' if value is None else f'{value:.2%}'}")
    typer.echo(f"metrics written to {path}")


def selfcheck(
    config: Path = ConfigOption,
    date_: str = DateOption,
    log_max_total: int | None = typer.Option(
        None, "--log-max-total", help="Also fail above N keyword lines."
    ),
    symbols: str | None = typer.Option(
        None, "--symbols", help="Symbols expected (default: the day's contract caches)."
    ),
) -> None:
    """Judge the day against the QA thresholds: PASS, or FAIL (exit 1) with the breaches."""
    from collector.ops.selfcheck import run_selfcheck

    day = _date(date_)
    syms = _symbols(symbols)
    if log_max_total is not None and log_max_total < 0:
        fail("--log-max-total must be >= 0")
    cfg = load_cfg(config)
    try:
        report, path = run_selfcheck(
            cfg, day, log_max_total=log_max_total, symbols=list(syms) if syms else None
        )
    except ValueError as exc:
        fail(str(exc))
    if path is None:
        typer.echo(f"selfcheck {day}: nothing due yet (no slot has come); no verdict written")
        return
    for check in report.checks:
        typer.echo(("  " if check.passed else "! ") + check.line())
    for tmp in report.tmp_removed:
        typer.echo(f"removed leftover temp file {tmp}")
    for tmp in report.tmp_skipped:
        typer.echo(f"kept recent temp file (a writer may still run) {tmp}")
    typer.echo(f"selfcheck {day}: {report.status} (report {path})")
    if report.status != "PASS":
        raise typer.Exit(EXIT_FAILURE)


def logscan(
    config: Path = ConfigOption,
    date_: str = DateOption,
    keywords: str | None = typer.Option(
        None, "--keywords", help="Comma-separated, default logscan.keywords."
    ),
    max_total: int | None = typer.Option(
        None, "--max-total", help="Exit 1 above N matching lines (default logscan.max_total)."
    ),
    write_summary_: bool = typer.Option(
        False, "--write-summary", help="Write errors/summary_YYYYMMDD.json."
    ),
) -> None:
    """Count ERROR/CRITICAL/PACING lines in the day's error log; exit 1 over the threshold."""
    from collector.ops.logscan import parse_keywords, scan_day, write_summary

    day = _date(date_)
    try:
        words = parse_keywords(keywords) if keywords is not None else None
    except ValueError as exc:
        fail(str(exc))
    if max_total is not None and max_total < 0:
        fail("--max-total must be >= 0")
    cfg = load_cfg(config)
    limit = cfg.logscan.max_total if max_total is None else max_total
    layout = Layout.from_config(cfg)
    result = scan_day(layout, day, words or cfg.logscan.keywords)
    payload = result.as_json() | {
        "max_total": limit,
        "status": "PASS" if result.total <= limit else "FAIL",
    }
    if write_summary_:
        path = write_summary(layout, result, limit)
        payload["summary_file"] = str(path)
    typer.echo(json.dumps(payload, indent=2))
    if result.total > limit:
        raise typer.Exit(EXIT_FAILURE)


def retention(
    config: Path = ConfigOption,
    view: str = typer.Option(..., "--view", help="intraday, close or errors."),
    older_than: int = typer.Option(..., "--older-than", help="Remove what is older than N days."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only list what would be removed."),
) -> None:
    """Remove intraday partitions (or error logs) older than N days, keeping the ledger in step."""
    from collector.ops.retention import RETENTION_VIEWS, apply_retention, cutoff_date, find_expired

    if view not in RETENTION_VIEWS:
        fail(f"unknown retention view {view!r}: expected one of {', '.join(RETENTION_VIEWS)}")
    try:
        cutoff = cutoff_date(today_et(), older_than)
    except ValueError as exc:
        fail(str(exc))
    cfg = load_cfg(config)
    layout = Layout.from_config(cfg)
    expired = find_expired(layout, view, cutoff)
    verb = "would remove" if dry_run else "removing"
    for item in expired:
        typer.echo(f"{verb} {item.path}")
    if not dry_run:
        apply_retention(layout, view, expired)
    done = "to remove" if dry_run else "removed"
    typer.echo(f"{view}: {len(expired)} item(s) dated before {cutoff} {done}")


def compact(
    config: Path = ConfigOption,
    week: str | None = typer.Option(
        None, "--week", help="ISO week YYYY-Www (default: last complete week)."
    ),
    date_: str | None = typer.Option(None, "--date", help="Compact the week containing this date."),
    dry_run: bool = typer.Option(False, "--dry-run"),
) -> None:
    """Merge a week's intraday slot files into one zstd file per date and underlying."""
    from collector.ops.compaction import (
        compact_week,
        count_rows,
        default_week,
        parse_week,
        week_dates,
    )

    if week and date_:
        fail("give --week or --date, not both")
    today = today_et()
    try:
        start = parse_week(week) if week else (_date(date_) if date_ else default_week(today))
    except ValueError as exc:
        fail(str(exc))
    cfg = load_cfg(config)
    if not (week or date_) and not cfg.storage.weekly_compaction_enabled:
        typer.echo("weekly compaction is disabled (storage.weekly_compaction_enabled=false)")
        return
    layout = Layout.from_config(cfg)
    days = week_dates(start)
    before = count_rows(layout, "intraday", days)
    report = compact_week(
        layout,
        start,
        today=today,
        same_day=cfg.storage.same_day_compaction_enabled,
        compression_level=cfg.storage.compression_level,
        dry_run=dry_run,
    )
    for item in report.items:
        what = f"{item.files_in} slot files, {item.rows_out} rows"
        typer.echo(f"{item.trade_date} {item.underlying}: {what} -> {item.path}")
    for skipped in report.skipped_dates:
        typer.echo(f"skipped {skipped}")
    after = count_rows(layout, "intraday", days)
    merged = f"{report.files_before} slot files into {len(report.items)} files"
    typer.echo(f"week of {days[0]}: {merged}; rows {before} -> {after}")
    if not dry_run and after != before - sum(i.duplicates_dropped for i in report.items):
        fail(f"row count changed unexpectedly ({before} -> {after})", EXIT_FAILURE)


def streaming(
    config: Path = ConfigOption,
    duration: float = typer.Option(
        ..., "--duration", help="Seconds to stream before a clean exit."
    ),
    log_level: str = typer.Option("INFO", "--log-level"),
) -> None:
    """Stream the configured underlyings and near-the-money options into Parquet parts."""
    from collector.ops.streaming import run_streaming

    if duration <= 0:
        fail("--duration must be > 0 seconds")
    cfg = load_cfg(config)
    if not cfg.streaming.underlyings:
        fail(f"streaming.underlyings is empty in {config}")
    setup_logging(log_level)
    summary = asyncio.run(run_streaming(cfg, duration))
    typer.echo(summary.line())
    raise typer.Exit(0 if summary.ok else EXIT_FAILURE)


def demo(
    out: Path = typer.Option(
        Path("demo"), "--out", help="Folder for the demo config, data and state."
    ),
    date_: str | None = typer.Option(
        None, "--date", help="Session to simulate (default: the latest XNYS session)."
    ),
    symbols: str = typer.Option("AAPL,MSFT,SPY,SPX", "--symbols"),
    seed: int = typer.Option(7, "--seed", help="Simulator seed (same seed, same market)."),
) -> None:
    """Run one simulated session end to end against the built-in simulator, then selfcheck it."""
    from collector.ops.demo import DemoOptions, run_demo

    day = _date(date_) if date_ else None
    syms = _symbols(symbols) or ()
    code = run_demo(DemoOptions(out=out, trade_date=day, symbols=syms, seed=seed))
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command("schedule")(schedule)
    app.command("qa")(qa)
    app.command("selfcheck")(selfcheck)
    app.command("logscan")(logscan)
    app.command("retention")(retention)
    app.command("compact")(compact)
    app.command("streaming")(streaming)
    app.command("demo")(demo)
