"""The day's checks: `opt-data qa`, `selfcheck` and `logscan`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from collector.cli.common import (
    EXIT_FAILURE,
    ConfigOption,
    DateOption,
    fail,
    load_cfg,
    parse_date_arg,
    parse_symbols_arg,
)
from collector.ops.alerts import Event, alert_urls, notify


def qa(
    config: Path = ConfigOption,
    date_: str = DateOption,
    symbols: str | None = typer.Option(
        None, "--symbols", help="Symbols expected (default: the day's contract caches)."
    ),
) -> None:
    """Slot coverage, delayed ratio, rollup fallback, OI fill rate -> metrics_YYYYMMDD.json."""
    from collector.ops.checks.selfcheck import compute_metrics, write_metrics

    day = parse_date_arg(date_)
    syms = parse_symbols_arg(symbols)
    cfg = load_cfg(config)
    try:
        metrics = compute_metrics(cfg, day, list(syms) if syms else None)
    except ValueError as exc:  # not a session: the same line as selfcheck's
        fail(str(exc))
    if not metrics.slots_due:  # as selfcheck: a day not begun has no metrics to write
        typer.echo(f"qa {day}: nothing due yet (no slot has come); no metrics written")
        return
    path = write_metrics(cfg, metrics)
    doc = metrics.as_json()
    for key in ("slot_coverage", "delayed_ratio", "rollup_fallback_ratio", "oi_fill_rate"):
        value = doc[key]
        typer.echo(f"{key:<22} {'n/a' if value is None else f'{value:.2%}'}")
    for shard in metrics.shards:
        value = shard.ratio
        text = "n/a" if value is None else f"{value:.2%}"
        typer.echo(
            f"{'shard ' + shard.shard + ' coverage':<22} {text} ({shard.covered}/{shard.expected})"
        )
    if metrics.missing_shards:
        typer.echo(f"missing shards         {', '.join(metrics.missing_shards)}")
    _echo_streaming(metrics.streaming)
    typer.echo(f"metrics written to {path}")


def _echo_streaming(streaming: dict[str, Any] | None) -> None:
    if not streaming or not streaming["due"]:
        return
    typer.echo(
        f"{'streaming coverage':<22} {streaming['coverage']:.2%} "
        f"({streaming['streamed']}/{streaming['underlyings']} underlyings)"
    )
    for shard in streaming.get("shards", []):
        typer.echo(
            f"{'streaming shard ' + shard['shard']:<22} {shard['written']}/{shard['symbols']}"
        )
    if streaming.get("missing_shards"):
        typer.echo(f"missing streaming      {', '.join(streaming['missing_shards'])}")


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
    from collector.ops.checks.selfcheck import run_selfcheck

    day = parse_date_arg(date_)
    syms = parse_symbols_arg(symbols)
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
        body = "; ".join(c.line() for c in report.breaches) or report.status
        notify(cfg, Event.SELFCHECK_FAIL, f"{day} {report.status}", f"{body} (report {path})")
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
    from collector.ops.checks.logscan import parse_keywords, scan_day, write_summary
    from shared.storage import Layout

    day = parse_date_arg(date_)
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
        body = f"{result.total} matching lines in {layout.errors_log(day).name} (max {limit})"
        notify(cfg, Event.LOGSCAN_BREACH, f"{day}", body)
        raise typer.Exit(EXIT_FAILURE)


EVENT_NAMES = ", ".join(ev.value for ev in Event)


def alert(
    event: str = typer.Argument(..., help=f"One of: {EVENT_NAMES}"),
    title: str = typer.Option(..., "--title", help="Short subject, e.g. the unit name."),
    body: str = typer.Option("", "--body", help="The message."),
    config: Path = ConfigOption,
) -> None:
    """Send one alert through the configured notifiers (systemd OnFailure=, launchd, cron)."""
    if event not in {ev.value for ev in Event}:
        fail(f"unknown alert event {event!r}; one of {EVENT_NAMES}")
    cfg = load_cfg(config)
    if not alert_urls(cfg):
        fail("no alert URL: set [alerts] urls in the config or OPT_DATA_ALERT_URLS")
    if not notify(cfg, event, title, body or title):
        fail(f"alert {event} was not delivered (see the warning above)", code=EXIT_FAILURE)
    typer.echo(f"alert {event} sent")


def register(app: typer.Typer) -> None:
    app.command("qa")(qa)
    app.command("selfcheck")(selfcheck)
    app.command("logscan")(logscan)
    app.command("alert")(alert)
