"""`opt-data capacity`: contracts per slot, time per slot for one login, logins needed."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import typer

from collector.cli.common import EXIT_FAILURE, ConfigOption, fail, load_cfg, parse_date_arg


def capacity(
    config: Path = ConfigOption,
    date_: str | None = typer.Option(
        None, "--date", help="Count contracts from this day's contract caches (default: estimate)."
    ),
    dwell: float = typer.Option(
        2.0, "--dwell", help="Seconds a contract holds its line (first quote and greeks)."
    ),
    underlyings: int | None = typer.Option(
        None, "--underlyings", help="What-if: this many underlyings of the universe's mean size."
    ),
    contracts: int | None = typer.Option(
        None, "--contracts", help="What-if: this many contracts per slot in all."
    ),
    logins: int = typer.Option(
        1, "--logins", help="Logins (gateways) you have; exit 1 when more are needed."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
) -> None:
    """Contracts per slot, the time one login needs at the pacing ceiling, shards needed."""
    from collector.ops.capacity import plan_capacity, symbol_loads, universe_entries

    if dwell <= 0:
        fail("--dwell must be > 0 seconds")
    if logins < 1:
        fail("--logins must be >= 1")
    if underlyings is not None and underlyings < 1:
        fail("--underlyings must be >= 1")
    if contracts is not None and contracts < 0:
        fail("--contracts must be >= 0")
    from shared.universe import UniverseError

    cfg = load_cfg(config)
    day = parse_date_arg(date_) if date_ else None
    try:
        loads = symbol_loads(cfg, universe_entries(cfg), day)
    except UniverseError as exc:
        fail(str(exc))
    per_symbol = sum(x.contracts for x in loads) / len(loads)
    if contracts is not None:
        total, basis = contracts, "--contracts"
    elif underlyings is not None:
        total, basis = (
            round(per_symbol * underlyings),
            f"{underlyings} underlyings x {per_symbol:.0f}",
        )
    else:
        total, basis = sum(x.contracts for x in loads), f"{len(loads)} underlyings of the universe"
    cap = plan_capacity(cfg, total, dwell_sec=dwell)
    enough = cap.shards <= logins
    if as_json:
        doc = {**asdict(cap), "basis": basis, "contracts_per_sec": cap.contracts_per_sec,
               "bound_by": cap.bound_by, "seconds_per_slot": cap.seconds_per_slot,
               "shards_needed": cap.shards, "logins": logins, "enough": enough,
               "symbols": [asdict(x) for x in loads]}  # fmt: skip
        typer.echo(json.dumps(doc, indent=2))
    else:
        sources = sorted({x.source for x in loads})
        typer.echo(f"contracts per slot: {total:,} ({basis}; counts from {', '.join(sources)})")
        typer.echo(
            f"one login: {cap.contracts_per_sec:.1f} contracts/s, bound by {cap.bound_by} "
            f"(messages {cap.messages_per_sec:.1f}/s / 2 = {cap.message_bound:.1f}/s; "
            f"lines {cap.max_lines} / {cap.dwell_sec:g} s dwell = {cap.line_bound:.1f}/s)"
        )
        typer.echo(
            f"slot window {cap.window_sec / 60:g} min (90% planned): one login finishes "
            f"{cap.per_login_contracts:,} contracts; this slot needs {cap.seconds_per_slot:,.0f} s "
            f"-> {cap.shards} login(s)"
        )
        if not enough:
            typer.echo(
                f"warning: {logins} login(s) cannot finish a slot in {cap.window_sec / 60:g} min; "
                f"split the universe over {cap.shards} logins or select fewer expiries/strikes",
                err=True,
            )
    if not enough:
        raise typer.Exit(EXIT_FAILURE)


def register(app: typer.Typer) -> None:
    app.command("capacity")(capacity)
