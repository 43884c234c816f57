"""`opt-data schedule`: run a trading day's tasks now (--simulate) or at their ET times (--live)."""

from __future__ import annotations

from pathlib import Path

import typer

from collector.cli.common import (
    EXIT_FAILURE,
    ConfigOption,
    ShardOption,
    fail,
    load_cfg,
    parse_date_arg,
    parse_symbols_arg,
    setup_logging,
)
from shared.calendar import now_et, today_et


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
    shard: str | None = ShardOption,
    log_level: str = typer.Option("INFO", "--log-level"),
) -> None:
    """Schedule a trading day: 30-min snapshots, close-snapshot, rollup, enrichment, checks."""
    import asyncio

    from collector.lock import LockHeld
    from collector.ops.schedule.modes import ScheduleOptions, run_schedule
    from collector.ops.schedule.tasks import TaskExecutor

    if simulate == live:
        fail("choose exactly one of --simulate or --live")
    if (continuous or exit_when_idle) and not live:
        fail("--continuous and --exit-when-idle need --live")
    if continuous and date_:
        fail("--date does not apply to --continuous (it follows the calendar)")
    if continuous and exit_when_idle:
        fail("--continuous runs for weeks; it cannot be combined with --exit-when-idle")
    cfg = load_cfg(config, shard)
    day = parse_date_arg(date_) if date_ else None
    if simulate and day is not None and day > today_et():
        fail(f"--simulate runs the day's tasks now: {day} has not come, so today's market "
             "would be filed under it (--live waits for the day)")  # fmt: skip
    opts = ScheduleOptions(
        mode="simulate" if simulate else "live",
        trade_date=day,
        symbols=parse_symbols_arg(symbols),
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


def register(app: typer.Typer) -> None:
    app.command("schedule")(schedule)
