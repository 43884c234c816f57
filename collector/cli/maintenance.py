"""Storage maintenance: `opt-data retention` and `opt-data compact`."""

from __future__ import annotations

from pathlib import Path

import typer

from collector.cli.common import EXIT_FAILURE, ConfigOption, fail, load_cfg, parse_date_arg
from shared.calendar import today_et
from shared.storage import Layout


def retention(
    config: Path = ConfigOption,
    view: str = typer.Option(..., "--view", help="intraday, close or errors."),
    older_than: int = typer.Option(..., "--older-than", help="Remove what is older than N days."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only list what would be removed."),
) -> None:
    """Remove intraday partitions (or error logs) older than N days, keeping the ledger in step."""
    from collector.ops.maintenance.retention import (
        RETENTION_VIEWS,
        apply_retention,
        cutoff_date,
        find_expired,
    )

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
    from collector.ops.maintenance.compaction import (
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
        start = (
            parse_week(week) if week else (parse_date_arg(date_) if date_ else default_week(today))
        )
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


def register(app: typer.Typer) -> None:
    app.command("retention")(retention)
    app.command("compact")(compact)
