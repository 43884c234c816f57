"""`opt-data gateway-sim`: run the simulated IB Gateway until Ctrl-C (SIGINT/SIGTERM)."""

from __future__ import annotations

import contextlib
import signal
from datetime import datetime
from typing import TYPE_CHECKING

import typer

from collector.cli.common import fail, setup_logging

if TYPE_CHECKING:
    from collector.gateway_sim import GatewaySim


def _parse_at(text: str) -> datetime:
    from collector.gateway_sim import parse_clock

    return parse_clock(text)


def gateway_sim(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(4002, "--port", help="TCP port (0 = pick a free one)."),
    seed: int = typer.Option(7, "--seed", help="Market seed: same seed, same market."),
    max_lines: int = typer.Option(
        100, "--max-lines", help="Concurrent market-data lines (101 beyond)."
    ),
    msg_rate_limit: int = typer.Option(
        50, "--msg-rate-limit", help="Client messages per second before error 100."
    ),
    rate_disconnect_after: float = typer.Option(
        2.0, "--rate-disconnect-after", help="Seconds of sustained excess before a disconnect."
    ),
    dwell_median: float = typer.Option(
        1.0, "--dwell-median", help="Median seconds until model greeks arrive."
    ),
    dwell_min: float = typer.Option(0.3, "--dwell-min", help="Shortest dwell (s)."),
    dwell_max: float = typer.Option(3.0, "--dwell-max", help="Longest dwell (s)."),
    snapshot_end_delay: float = typer.Option(
        11.0,
        "--snapshot-end-delay",
        help="Seconds from a snapshot request to its tickSnapshotEnd (IB: 11).",
    ),
    tick_interval: float = typer.Option(
        1.0, "--tick-interval", help="Seconds between streaming updates."
    ),
    clock: str | None = typer.Option(
        None, "--clock", help="Start the market at DATE[THH:MM] ET (default: wall time)."
    ),
    speed: float = typer.Option(1.0, "--speed", help="Market seconds per real second."),
    unknown_symbols: str = typer.Option(
        "", "--unknown-symbols", help="Comma list answered with error 200 (besides ZZ*)."
    ),
    no_options_symbols: str = typer.Option(
        "NOOPT", "--no-options-symbols", help="Comma list with no listed options."
    ),
    disconnect_after_messages: int | None = typer.Option(
        None, "--disconnect-after-messages", help="Fault: drop a client after N messages (once)."
    ),
    disconnect_at: str | None = typer.Option(
        None,
        "--disconnect-at",
        help="Fault: drop every client at DATE[THH:MM] ET (simulated clock).",
    ),
    pacing_error_rate: float = typer.Option(
        0.0,
        "--pacing-error-rate",
        help="Fault: fraction of historical (162) / market data (420) requests refused.",
    ),
    no_permission: str = typer.Option(
        "",
        "--no-permission",
        help="Fault: comma list of symbols without market data permission "
        "(354; delayed data for types 3/4).",
    ),
    missing_greeks: float = typer.Option(
        0.0,
        "--missing-greeks",
        help="Fault: fraction of contracts whose model greeks are IB's not-computed sentinels.",
    ),
    slow_ticks: float = typer.Option(
        1.0, "--slow-ticks", help="Fault: multiply dwell and tick intervals by this factor."
    ),
    competing_session: str = typer.Option(
        "", "--competing-session", help="Fault: comma list of symbols answered with 10197."
    ),
    connectivity: str = typer.Option(
        "",
        "--connectivity",
        help="Fault: SECONDS:CODE list after each connect, codes 1100/1101/1102.",
    ),
    nightly_restart: str | None = typer.Option(
        None,
        "--nightly-restart",
        help="Fault: the gateway restarts daily at HH:MM ET (sim clock): all clients "
        "dropped, connections refused for --restart-minutes.",
    ),
    restart_minutes: float = typer.Option(
        2.0, "--restart-minutes", help="Minutes the nightly restart keeps the port closed."
    ),
    sunday_relogin_hours: float = typer.Option(
        0.0,
        "--sunday-relogin-hours",
        help="Fault: on Sundays the restart waits this many hours for the weekly login.",
    ),
    lenient: str = typer.Option(
        "",
        "--lenient",
        help="Comma list of kinder rules: closed-market, snapshot, rate-window, pacing, all.",
    ),
    log_level: str = typer.Option(
        "INFO", "--log-level", help="DEBUG, INFO, WARNING or ERROR (stderr)."
    ),
) -> None:
    """Run a simulated IB Gateway (TWS socket protocol) until Ctrl-C."""
    import asyncio

    from collector.gateway_sim import DwellConfig, FaultConfig, GatewaySim, SimConfig
    from collector.gateway_sim.faults import (
        parse_connectivity,
        parse_hhmm,
        parse_leniency,
        parse_symbols,
    )

    try:
        if not 0 <= port <= 65535:
            raise ValueError(f"--port must be 0-65535, got {port}")
        if speed <= 0:
            raise ValueError(f"--speed must be > 0, got {speed}")
        if max_lines < 1 or msg_rate_limit < 1:
            raise ValueError("--max-lines and --msg-rate-limit must be >= 1")
        if not (0 < dwell_min <= dwell_median <= dwell_max):
            raise ValueError("dwell must satisfy 0 < --dwell-min <= --dwell-median <= --dwell-max")
        for name, rate in (
            ("--pacing-error-rate", pacing_error_rate),
            ("--missing-greeks", missing_greeks),
        ):
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} must be within 0..1, got {rate}")
        if restart_minutes <= 0 or sunday_relogin_hours < 0:
            raise ValueError("--restart-minutes must be > 0, --sunday-relogin-hours >= 0")
        if slow_ticks <= 0 or snapshot_end_delay < 0 or tick_interval <= 0:
            raise ValueError(
                "--slow-ticks and --tick-interval must be > 0, --snapshot-end-delay >= 0"
            )
        faults = FaultConfig(
            disconnect_after_messages=disconnect_after_messages,
            disconnect_at=_parse_at(disconnect_at) if disconnect_at else None,
            pacing_error_rate=pacing_error_rate,
            no_permission_symbols=parse_symbols(no_permission),
            missing_greeks_fraction=missing_greeks,
            slow_ticks_factor=slow_ticks,
            competing_session_symbols=parse_symbols(competing_session),
            connectivity_events=parse_connectivity(connectivity),
            nightly_restart=parse_hhmm(nightly_restart) if nightly_restart else None,
            restart_minutes=restart_minutes,
            sunday_relogin_hours=sunday_relogin_hours,
        )
        config = SimConfig(
            host=host,
            port=port,
            seed=seed,
            max_lines=max_lines,
            msg_rate_limit=msg_rate_limit,
            rate_disconnect_after=rate_disconnect_after,
            dwell=DwellConfig(median=dwell_median, low=dwell_min, high=dwell_max),
            snapshot_end_delay=snapshot_end_delay,
            tick_interval=tick_interval,
            clock_start=_parse_at(clock) if clock else None,
            speed=speed,
            unknown_symbols=parse_symbols(unknown_symbols),
            no_options_symbols=parse_symbols(no_options_symbols),
            lenient=parse_leniency(lenient),
            faults=faults,
        )
    except ValueError as exc:
        fail(str(exc))
    setup_logging(log_level)
    sim = GatewaySim(config)
    try:
        asyncio.run(_serve(sim))
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}", code=1)
    except KeyboardInterrupt:  # platforms without loop signal handlers
        pass
    typer.echo(
        f"gateway-sim: stopped after {sim.stats.connections} connections, "
        f"{sim.stats.messages_received} client messages; goodbye",
        err=True,
    )


async def _serve(sim: GatewaySim) -> None:
    import asyncio

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    port = await sim.start()
    typer.echo(f"gateway-sim: listening on {sim.config.host}:{port} (Ctrl-C to stop)", err=True)
    try:
        await stop.wait()
    finally:
        await sim.stop()


def register(app: typer.Typer) -> None:
    """Add this group's commands to the `opt-data` app."""
    app.command("gateway-sim")(gateway_sim)
