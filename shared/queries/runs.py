"""Run history from the ledger: per-day task status and the most recent runs."""

from __future__ import annotations

import json
import re
from typing import Any

from shared.due import recent_sessions
from shared.ledger import RUN_STATUSES
from shared.queries.context import ServerContext
from shared.queries.limits import Meta, clamp
from shared.queries.paths import QueryError
from shared.queries.results import Page, records_table

TASK_RE = re.compile(r"^[a-z][a-z0-9_\-]{0,39}$")
# Worst first: a day's status is the worst status among its tasks' latest runs.
SEVERITY = ("failed", "missed", "partial", "running", "ok")


def run_status_overview(ctx: ServerContext, days: int | None) -> dict[str, Any]:
    meta = Meta()
    n = meta.apply(clamp(ctx.limits.run_status_days, days), "days")
    meta.limit = n
    meta.add_source("ledger:runs")
    dates = recent_sessions(n)
    runs = ctx.ledger.runs_for_dates(dates)
    by_day: dict[str, dict[str, dict[str, Any]]] = {d.isoformat(): {} for d in dates}
    for run in runs:  # ordered by started_at, so the last one seen per task is the latest
        tasks = by_day.setdefault(run["trade_date"], {})
        t = tasks.setdefault(run["task"], {"runs": 0, **{s: 0 for s in RUN_STATUSES}})
        t["runs"] += 1
        t[run["status"]] = t.get(run["status"], 0) + 1
        t["last_status"] = run["status"]
        t["last_started_at"] = run["started_at"]
        t["last_finished_at"] = run["finished_at"]
        if run["status"] in ("failed", "partial", "missed") and run["error_summary"]:
            t["last_error"] = run["error_summary"][:500]
    out = []
    for day, tasks in by_day.items():
        latest = [t["last_status"] for t in tasks.values()]
        status = next((s for s in SEVERITY if s in latest), "no_runs")
        out.append({"date": day, "status": status, "tasks": tasks})
    meta.rows = len(runs)
    return {"days": out, "meta": meta.as_dict()}


def list_recent_runs(
    ctx: ServerContext,
    limit: int | None,
    task: str | None,
    status: str | None,
    page: Page | None = None,
) -> dict[str, Any]:
    meta = Meta()
    n = meta.apply(clamp(ctx.limits.runs, limit))
    if task is not None and not TASK_RE.match(task):
        raise QueryError(
            f"invalid task name {task!r}: expected lower-case letters, digits, '_' or '-'"
        )
    if status is not None and status not in RUN_STATUSES:
        raise QueryError(f"unknown status {status!r}: expected one of {', '.join(RUN_STATUSES)}")
    meta.add_source("ledger:runs")
    offset = page.offset if page else 0
    runs = ctx.ledger.recent_runs(offset + n + 1, task=task, status=status)
    rows = records_table([_run_row(r) for r in runs], meta, n, page)
    meta.extra.pop("total_rows", None)  # only offset + limit + 1 runs were read
    if not ctx.ledger.exists():
        meta.notes.append("the ledger does not exist yet: no run has been recorded")
    return {"runs": rows, "meta": meta.as_dict()}


def _run_row(run: dict[str, Any]) -> dict[str, Any]:
    row = dict(run)
    details = row.pop("details", None)
    if details:
        try:
            row["details"] = json.loads(details) if len(details) <= 8192 else {"truncated": True}
        except ValueError:
            row["details"] = {"unparsed": details[:500]}
    return row
