"""`opt-data streaming`: near-the-money lines streamed into Parquet parts for a duration."""

from __future__ import annotations

from pathlib import Path

import typer

from collector.cli.common import (
    EXIT_FAILURE,
    ConfigOption,
    ShardOption,
    fail,
    load_cfg,
    setup_logging,
)


def streaming(
    config: Path = ConfigOption,
    duration: float = typer.Option(
        ..., "--duration", help="Seconds to stream before a clean exit."
    ),
    shard: str | None = ShardOption,
    log_level: str = typer.Option("INFO", "--log-level"),
) -> None:
    """Stream the configured underlyings (of this shard) and near-the-money options into
    Parquet parts."""
    import asyncio

    from collector.lock import LockHeld
    from collector.streaming.loop import run_streaming
    from shared.calendar import require_session, today_et
    from shared.ledger import LedgerError

    if duration <= 0:
        fail("--duration must be > 0 seconds")
    cfg = load_cfg(config, shard)
    try:  # the parts are filed under today's date: a day without a session has no stream
        require_session(today_et())
    except ValueError as exc:
        fail(f"{exc}: nothing to stream")
    if not cfg.streaming.underlyings:
        fail(f"streaming.underlyings is empty in {config}")
    setup_logging(log_level)
    try:
        summary = asyncio.run(run_streaming(cfg, duration))
    except (LockHeld, LedgerError) as exc:
        fail(str(exc), EXIT_FAILURE)
    typer.echo(summary.line())
    raise typer.Exit(0 if summary.ok else EXIT_FAILURE)


def register(app: typer.Typer) -> None:
    app.command("streaming")(streaming)
