"""`opt-data demo`: one simulated session end to end on the built-in simulator."""

from __future__ import annotations

from pathlib import Path

import typer

from collector.cli.common import check_data_root, parse_date_arg, parse_symbols_arg


def demo(
    out: Path = typer.Option(
        Path("demo"), "--out", help="Folder for the demo config, data and state."
    ),
    date_: str | None = typer.Option(
        None, "--date", help="Session to simulate (default: the latest XNYS session)."
    ),
    symbols: str = typer.Option("AAPL,MSFT,SPY,SPX", "--symbols"),
    seed: int = typer.Option(7, "--seed", help="Simulator seed (same seed, same market)."),
    data: str | None = typer.Option(
        None, "--data", help="Data root instead of --out/data: a path or s3://bucket/prefix."
    ),
) -> None:
    """Run one simulated session end to end against the built-in simulator, then selfcheck it."""
    from collector.ops.demo import DemoOptions, run_demo

    day = parse_date_arg(date_) if date_ else None
    syms = parse_symbols_arg(symbols) or ()
    if data:
        check_data_root(data)
    code = run_demo(DemoOptions(out=out, trade_date=day, symbols=syms, seed=seed, data=data))
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
