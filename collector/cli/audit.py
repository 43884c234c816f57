"""`opt-data audit`: what agents asked the MCP server, from its audit DB (read-only)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import typer

from collector.cli.common import ConfigOption, fail, load_cfg
from shared.audit_reads import AUDIT_STATUSES, AuditReader, AuditReadError, CallFilter


def audit(
    config: Path = ConfigOption,
    limit: int = typer.Option(20, "--limit", min=1, max=10000, help="Recent calls to list."),
    tool: str | None = typer.Option(None, "--tool", help="Only this tool."),
    status: str | None = typer.Option(None, "--status", help="ok, clamped, rejected or error."),
    since: str | None = typer.Option(
        None, "--since", help="ISO time (UTC), e.g. 2026-11-30T14:00."
    ),
    summary: bool = typer.Option(
        False, "--summary", help="Per-tool counts and latency percentiles."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    audit_db: Path | None = typer.Option(
        None, "--audit-db", help="Default: mcp.audit_db of the config."
    ),
) -> None:
    """Recent MCP tool calls (time, tool, arguments, status, rows, duration, error) or a summary."""
    if status is not None and status not in AUDIT_STATUSES:
        fail(f"unknown status {status!r}: expected one of {', '.join(AUDIT_STATUSES)}")
    since = _utc_text(since)
    cfg = load_cfg(config)
    path = audit_db or cfg.mcp.audit_db
    assert path is not None
    reader = AuditReader(path)
    flt = CallFilter(tool=tool, status=status, since=since)
    try:
        out = reader.summary(flt) if summary else reader.calls(flt, limit)
    except AuditReadError as exc:
        fail(str(exc), code=1)
    if as_json:
        typer.echo(json.dumps(out, default=str))
    elif summary:
        assert isinstance(out, dict)
        typer.echo(
            f"{out['calls']} calls: " + ", ".join(f"{k} {v}" for k, v in out["by_status"].items())
        )
        typer.echo(
            f"{'tool':28} {'calls':>6} {'errors':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}"
        )
        for t in out["tools"]:
            typer.echo(f"{t['tool']:28} {t['calls']:>6} {t['error'] + t['rejected']:>6} "
                       f"{t['p50_ms']:>8.1f} {t['p95_ms']:>8.1f} {t['p99_ms']:>8.1f}")  # fmt: skip
    else:
        assert isinstance(out, list)
        if not out:
            typer.echo("no MCP tool calls match")
        for c in reversed(out):
            err = f" error={c['error']}" if c["error"] else ""
            typer.echo(f"{c['ts']} {c['tool']} {c['status']} rows={c['rows']} "
                       f"{c['duration_ms']:.1f}ms {c['arguments']}{err}")  # fmt: skip


def _utc_text(since: str | None) -> str | None:
    """--since as the audit DB's UTC text (rows are compared as text): a time with an offset
    is moved to UTC; text that is not an ISO time is one line and exit 2, not an empty list."""
    if since is None:
        return None
    try:
        at = datetime.fromisoformat(since.strip())
    except ValueError:
        fail(f"--since must be an ISO time such as 2026-11-30T14:00 (UTC), got {since!r}")
    if at.tzinfo is not None:
        at = at.astimezone(UTC).replace(tzinfo=None)
    return at.isoformat()


def register(app: typer.Typer) -> None:
    app.command("audit")(audit)
