"""`opt-data streaming`: near-the-money lines streamed into Parquet parts for a duration."""

from __future__ import annotations

from pathlib import Path

import typer

from collector.cli.common import EXIT_FAILURE, ConfigOption, fail, load_cfg, setup_logging


def streaming(
    config: Path = ConfigOption,
    duration: float = typer.Option(
        ..., "--duration", help="Seconds to stream before a clean exit."
    ),
    log_level: str = typer.Option("INFO", "--log-level"),
) -> None:
    """Stream the configured underlyings and near-the-money options into Parquet parts."""
    import asyncio

    from collector.streaming.loop import run_streaming

    if duration <= 0:
        fail("--duration must be > 0 seconds")
    cfg = load_cfg(config)
    if not cfg.streaming.underlyings:
        fail(f"streaming.underlyings is empty in {config}")
    setup_logging(log_level)
    summary = asyncio.run(run_streaming(cfg, duration))
    typer.echo(summary.line())
    raise typer.Exit(0 if summary.ok else EXIT_FAILURE)


def register(app: typer.Typer) -> None:
    app.command("streaming")(streaming)
