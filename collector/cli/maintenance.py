"""Storage maintenance: `opt-data retention` and `opt-data compact`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from collector.cli.common import EXIT_FAILURE, ConfigOption, fail, load_cfg, parse_date_arg
from shared.calendar import today_et

if TYPE_CHECKING:
    from collector.ops.maintenance.compaction import UnderlyingCompaction
    from collector.ops.maintenance.retention import Expired
    from shared.config import AppConfig
    from shared.storage import Layout


def retention(
    config: Path = ConfigOption,
    view: str = typer.Option(..., "--view", help="intraday, close or errors."),
    older_than: int | None = typer.Option(
        None,
        "--older-than",
        help="Remove what is older than N days (default: storage.intraday_retain_days, "
        "or storage.errors_retain_days for errors).",
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only list what would be removed."),
) -> None:
    """Remove intraday partitions (or error logs) older than N days, keeping the ledger in step."""
    from collector.ops.maintenance.retention import RETENTION_VIEWS, cutoff_date, find_expired
    from shared.storage import Layout

    if view not in RETENTION_VIEWS:
        fail(f"unknown retention view {view!r}: expected one of {', '.join(RETENTION_VIEWS)}")
    cfg = load_cfg(config)
    if older_than is None:
        st = cfg.storage
        older_than = st.errors_retain_days if view == "errors" else st.intraday_retain_days
    try:
        cutoff = cutoff_date(today_et(), older_than)
    except ValueError as exc:
        fail(str(exc))
    layout = Layout.from_config(cfg)
    expired = find_expired(layout, view, cutoff)
    verb = "would remove" if dry_run else "removing"
    for item in expired:
        typer.echo(f"{verb} {item.path}")
    done = "to remove" if dry_run else "removed"
    summary = f"{view}: {len(expired)} item(s) dated before {cutoff} {done}"
    if not dry_run:
        _retain(cfg, layout, view, expired, summary)
    typer.echo(summary)


def _retain(
    cfg: AppConfig, layout: Layout, view: str, expired: list[Expired], summary: str
) -> None:
    """Remove under a ledger run row, as every job does: a failure is a failed row, the stack
    in the errors log and one line (what was removed before it stays removed)."""
    from collector.ops.maintenance.retention import apply_retention
    from collector.pipeline.run import JobResult, RunContext
    from shared.tasks import Task

    ctx = RunContext(cfg, Task.RETENTION, today_et())  # dated by the day it ran, as history
    try:
        apply_retention(layout, view, expired)
    except Exception as exc:
        result = ctx.crashed(exc)
        fail(f"retention failed: {result.message}", EXIT_FAILURE)
    ctx.finish(JobResult(Task.RETENTION, "ok", total=len(expired), succeeded=len(expired),
                         message=summary, details={"view": view}))  # fmt: skip


def compact(
    config: Path = ConfigOption,
    week: str | None = typer.Option(
        None, "--week", help="ISO week YYYY-Www (default: last complete week)."
    ),
    date_: str | None = typer.Option(None, "--date", help="Compact the week containing this date."),
    day: str | None = typer.Option(
        None, "--day", help="Compact this one date only (e.g. right after its rollup)."
    ),
    dry_run: bool = typer.Option(False, "--dry-run"),
) -> None:
    """Merge a week's (or one day's) intraday slot files into one file per date and underlying."""
    from collector.ops.maintenance.compaction import (
        compact_day,
        compact_week,
        default_week,
        parse_week,
        week_dates,
    )
    from shared.storage import Layout

    if sum(x is not None for x in (week, date_, day)) > 1:
        fail("give one of --week, --date and --day")
    today = today_et()
    try:
        one = parse_date_arg(day) if day is not None else None
        start = (
            parse_week(week) if week else (parse_date_arg(date_) if date_ else default_week(today))
        )
    except ValueError as exc:
        fail(str(exc))
    cfg = load_cfg(config)
    layout = Layout.from_config(cfg)
    level = cfg.storage.compression_level
    if one is not None:
        if one >= today and not cfg.storage.same_day_compaction_enabled:
            fail(f"{one} is today or later (storage.same_day_compaction_enabled=false)")
        days = [one]

        def run() -> list[UnderlyingCompaction]:
            return compact_day(layout, one, level, dry_run)

    else:
        if not (week or date_) and not cfg.storage.weekly_compaction_enabled:
            typer.echo("weekly compaction is disabled (storage.weekly_compaction_enabled=false)")
            return
        days = week_dates(start)

        def run() -> list[UnderlyingCompaction]:
            report = compact_week(
                layout,
                start,
                today=today,
                same_day=cfg.storage.same_day_compaction_enabled,
                compression_level=level,
                dry_run=dry_run,
            )
            for skipped in report.skipped_dates:
                typer.echo(f"skipped {skipped}")
            return report.items

    _compact(cfg, days, run, dry_run)


def _compact(
    cfg: AppConfig,
    days: list[date],
    run: Callable[[], list[UnderlyingCompaction]],
    dry_run: bool,
) -> None:
    """Print what collector.ops.maintenance.compact_run did; one line and exit 1 on failure."""
    from collector.ops.maintenance.compact_run import run_compaction

    done = run_compaction(cfg, days, run, dry_run)
    for q in done.corrupt:
        typer.echo(q.line())
    if done.result.status == "failed" and not done.items:
        fail(f"compact failed: {done.result.message}", EXIT_FAILURE)
    for item in done.items:
        what = f"{item.files_in} slot files, {item.rows_out} rows"
        typer.echo(f"{item.trade_date} {item.underlying}: {what} -> {item.path}")
    files = sum(i.files_in for i in done.items)
    span = f"week of {days[0]}" if len(days) > 1 else str(days[0])
    typer.echo(f"{span}: {files} slot files into {len(done.items)} files; "
               f"rows {done.before} -> {done.after}")  # fmt: skip
    if done.result.status != "ok":
        fail(done.result.message, EXIT_FAILURE)


def register(app: typer.Typer) -> None:
    app.command("retention")(retention)
    app.command("compact")(compact)
