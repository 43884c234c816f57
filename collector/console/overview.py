"""Overview: the session at a glance (slot grid, coverage, throughput, dwell, rates, checks).

`overview_model` gathers figures through reads.py (the MCP server's query functions and
the ledger's named reads) into one plain dict; `render_overview` turns it into HTML. The
metrics endpoint exports the same dict, so the page and Grafana never disagree.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from collector.console import svg
from collector.console.grid import Cell, slot_grid, status_counts
from collector.console.heartbeat import heartbeat
from collector.console.html import cards, e, link, nbytes, num, pct, select, table
from collector.console.reads import Reads
from collector.ops.capacity import plan_capacity
from collector.pipeline.throughput import DWELL_EDGES
from shared.config import AppConfig
from shared.storage import Layout
from shared.tasks import Task

SLOT_TASKS = (Task.SNAPSHOT, Task.CLOSE_SNAPSHOT)


def _details(run: dict[str, Any]) -> dict[str, Any]:
    raw = run.get("details")
    if isinstance(raw, dict):
        return raw
    try:
        return json.loads(raw) if raw else {}
    except ValueError:
        return {}


def throughput_rows(cfg: AppConfig, runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per snapshot run: contracts/s of the line loop against the pacing ceiling.

    The ceiling is `opt-data capacity`'s (collector/ops/capacity.py) at the run's own mean
    dwell, so the page and the capacity plan use one formula.
    """
    out = []
    for r in runs:
        if r["task"] not in SLOT_TASKS:
            continue
        speed = _details(r).get("throughput") or {}
        mean = (speed.get("dwell_sec") or {}).get("mean")
        cap = plan_capacity(cfg, int(r.get("total") or 0), dwell_sec=mean) if mean else None
        out.append({
            "run_id": r["run_id"], "task": r["task"], "slot": r.get("slot"), "status": r["status"],
            "contracts": r.get("total") or 0, "duration_s": r.get("duration_s"),
            "contracts_per_sec": speed.get("contracts_per_sec"),
            "ceiling": round(cap.contracts_per_sec, 2) if cap else None,
            "bound_by": cap.bound_by if cap else None,
            "dwell": speed.get("dwell_sec") or {},
        })  # fmt: skip
    return out


def dwell_histogram(rows: list[dict[str, Any]]) -> list[int]:
    """Bucket counts summed over the runs (buckets of collector.pipeline.throughput)."""
    total = [0] * (len(DWELL_EDGES) + 1)
    for r in rows:
        counts = r["dwell"].get("counts") or []
        if len(counts) == len(total):
            total = [a + b for a, b in zip(total, counts, strict=True)]
    return total


def rates(runs: list[dict[str, Any]], coverage: dict[str, Any]) -> dict[str, float | None]:
    slot_runs = [r for r in runs if r["task"] in SLOT_TASKS and r["status"] != "running"]
    contracts = sum(r.get("total") or 0 for r in slot_runs)
    failed = sum(r.get("failed") or 0 for r in slot_runs)
    finished = [r for r in runs if r["status"] != "running"]
    bad = [r for r in finished if r["status"] in ("failed", "missed")]
    return {
        "run_error_rate": len(bad) / len(finished) if finished else None,
        "contract_error_rate": failed / contracts if contracts else None,
        "delayed_ratio": (coverage.get("intraday") or {}).get("delayed_ratio"),
    }


def overview_model(reads: Reads, day: date, now: datetime | None = None) -> dict[str, Any]:
    cfg = reads.cfg
    health = reads.health(day, now)
    runs = reads.runs_of(day)
    snap_runs = [r for r in runs if r["task"] == Task.SNAPSHOT]
    due = reads.due(day, now)
    grid = slot_grid(
        reads.universe("intraday"), reads.slots(day), reads.partitions(day, "intraday"),
        snap_runs, due=due.get("intraday", []), queued=reads.missed(Task.SNAPSHOT, day),
    )  # fmt: skip
    speed = throughput_rows(cfg, runs)
    last = reads.recent_runs(1)
    beat = heartbeat(Layout.from_config(cfg).run_locks(), last[0] if last else None,
                     cfg.ib.host, cfg.ib.port)  # fmt: skip
    return {
        "date": day.isoformat(),
        "as_of": health["as_of"],
        "session": health["session"],
        "grid": grid,
        "grid_counts": status_counts(grid),
        "coverage": health["coverage"],
        "freshness": health["freshness"],
        "throughput": speed,
        "dwell_counts": dwell_histogram(speed),
        "rates": rates(runs, health["coverage"]),
        "run_counts": health["runs"]["by_status"],
        "problems": health["runs"]["recent_problems"],
        "errors": health["errors"],
        "verdicts": {
            "selfcheck": health["selfcheck"],
            "logscan": health["logscan"],
            "qa": health["qa_metrics"],
        },
        "disk": health["disk"],
        "heartbeat": beat.as_dict(),
    }


# --- rendering ------------------------------------------------------------------------------
def _grid_html(grid: list[list[Cell]], slots: list[str]) -> str:
    head = "<th>underlying</th>" + "".join(f"<th>{e(s)}</th>" for s in slots)
    rows = []
    for row in grid:
        cells = []
        for c in row:
            title = e(f"{c.underlying} {c.slot}: {c.status} - {c.note}")
            inner = (f'<a href="{link("/runs/" + c.run_id)}" title="{title}">{c.status[:1]}</a>'
                     if c.run_id else f'<span title="{title}">{c.status[:1]}</span>')  # fmt: skip
            cells.append(f'<td class="c {c.status}" data-status="{c.status}">{inner}</td>')
        rows.append(f"<tr><th>{e(row[0].underlying if row else '')}</th>{''.join(cells)}</tr>")
    legend = " ".join(f'<span class="{s}">&nbsp;{s}&nbsp;</span>'
                      for s in ("ok", "delayed", "partial", "queued", "missed", "running", "pending"))  # fmt: skip
    return (f'<table class="grid" id="slot-grid"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table><p>{legend}</p>")  # fmt: skip


def _verdict(name: str, found: dict[str, Any] | None) -> list[str]:
    if not found:
        return [name, "-", "none yet", ""]
    summary = found.get("summary") or {}
    status = str(summary.get("status") or "figures")  # QA metrics carry figures, no verdict
    detail = "; ".join(str(b) for b in summary.get("breaches") or []) or (
        f"{summary.get('total')} matching lines" if "total" in summary else ""
    )
    if "slot_coverage" in summary:
        detail = ", ".join(f"{label} {pct(summary.get(key))}" for label, key in (
            ("slot coverage", "slot_coverage"), ("delayed", "delayed_ratio"),
            ("rollup fallback", "rollup_fallback_ratio"), ("OI fill", "oi_fill_rate")))  # fmt: skip
    return [name, e(found.get("date") or ""), f'<span class="verdict {e(status)}">{e(status)}</span>',
            e(detail)]  # fmt: skip


def render_overview(m: dict[str, Any], sessions: list[str]) -> str:
    hb = m["heartbeat"]
    sched = hb["scheduler"]
    last = hb["last_task"]
    cov = m["coverage"]
    r = m["rates"]
    fs = (m["disk"] or {}).get("filesystem") or {}
    form = (f'<form class="inline" method="get" action="/"><label>session'
            f'{select("date", sessions, m["date"])}</label><button>show</button></form>')  # fmt: skip
    figures = cards({
        "session": e(m["date"]) + (" (early close)" if m["session"].get("early_close") else ""),
        "intraday coverage": pct(cov["intraday"]["coverage"]),
        "close coverage": pct(cov["close"]["coverage"]),
        "daily_clean coverage": pct(cov["daily_clean"]["coverage"]),
        "run error rate": pct(r["run_error_rate"]),
        "contract error rate": pct(r["contract_error_rate"]),
        "delayed fallback": pct(r["delayed_ratio"]),
        "errors log lines": num(m["errors"].get("lines")),
        "disk free": nbytes(fs.get("free")) + (
            f" <small>of {nbytes(fs['total'])}</small>" if fs.get("total") else ""),
        "scheduler": (f"running (pid {sched['pid']})" if sched else "not running"),
        "last task": e(f"{last['task']} {last['status']}" if last else "none"),
        "gateway": ("reachable" if hb["gateway_up"] else "unreachable") + f" <small>{e(hb['gateway'])}</small>",
    })  # fmt: skip
    cov_rows = [[v, c["written"], c["expected_partitions"], c["slots_due"], pct(c["coverage"]),
                 c["rows"], pct(c["quote_fill"]), pct(c["greeks_fill"]), pct(c["delayed_ratio"]),
                 nbytes(c["bytes"])] for v, c in cov.items()]  # fmt: skip
    speed = m["throughput"]
    labels = [f"{t['slot'] or t['task']}" for t in speed]
    achieved = svg.bar_chart("chart-throughput", "contracts/s per run (line loop)", labels,
                             [t["contracts_per_sec"] for t in speed], xlabel="run (slot)",
                             ylabel="contracts/s", series_name="achieved")  # fmt: skip
    ceiling = max((t["ceiling"] or 0 for t in speed), default=0)
    edges = [f"≤{x:g}s" for x in DWELL_EDGES] + [f">{DWELL_EDGES[-1]:g}s"]
    dwell = svg.bar_chart("chart-dwell", "per-contract dwell (all runs of the session)", edges,
                          [float(c) for c in m["dwell_counts"]], xlabel="dwell",
                          ylabel="contracts", series_name="contracts")  # fmt: skip
    runs_table = table(
        ["run", "task", "slot", "status", "contracts", "s", "contracts/s", "ceiling/s", "dwell p50", "p90"],
        [[f'<a href="{link("/runs/" + t["run_id"])}">{e(t["run_id"][-8:])}</a>', e(t["task"]),
          e(t["slot"]), f'<span class="status-{e(t["status"])}">{e(t["status"])}</span>',
          num(t["contracts"]), num(t["duration_s"], 1), num(t["contracts_per_sec"]), num(t["ceiling"]),
          num(t["dwell"].get("p50"), 3), num(t["dwell"].get("p90"), 3)] for t in speed],
        raw=True,
    )  # fmt: skip
    verdicts = table(["check", "date", "verdict", "detail"],
                     [_verdict(k, v) for k, v in m["verdicts"].items()], cls="verdicts", raw=True)  # fmt: skip
    problems = table(["task", "slot", "started", "error"],
                     [[p["task"], p["slot"], p["started_at"], p["error_summary"]] for p in m["problems"]])  # fmt: skip
    slots = [c.slot for c in m["grid"][0]] if m["grid"] else []
    return (
        f"{form}{figures}<h2>Slot grid</h2>{_grid_html(m['grid'], slots)}"
        f"<h2>Coverage against the calendar</h2>"
        + table(
            [
                "view",
                "written",
                "expected",
                "slots due",
                "coverage",
                "rows",
                "quotes",
                "greeks",
                "delayed",
                "bytes",
            ],
            cov_rows,
        )
        + f'<h2>Throughput and dwell</h2><p class="muted">ceiling = min(messages/s ÷ 2, lines ÷ mean dwell), as in opt-data capacity'
        f"; highest ceiling this session {num(ceiling)} contracts/s</p>"
        f'<div class="charts">{achieved}{dwell}</div>{runs_table}'
        f"<h2>Checks</h2>{verdicts}<h2>Recent problems</h2>{problems}"
        f'<p class="muted">as of {e(m["as_of"])}</p>'
    )


def render_run(run: dict[str, Any] | None, run_id: str) -> str:
    if run is None:
        return f'<p class="err">no run {e(run_id)} in the ledger</p>'
    details = _details(run)
    rows = [[k, run.get(k)] for k in ("run_id", "task", "trade_date", "slot", "status", "started_at",
                                      "finished_at", "duration_s", "rows_written", "total",
                                      "succeeded", "failed", "error_summary")]  # fmt: skip
    return table(["field", "value"], rows) + (
        f"<h2>details</h2><pre>{e(json.dumps(details, indent=2, default=str))}</pre>"
        if details
        else ""
    )
