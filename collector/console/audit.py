"""Audit review: what agents asked the MCP server, from its audit DB (read-only)."""

from __future__ import annotations

from typing import Any

from collector.console.html import cards, e, num, select, table
from shared.audit_reads import AUDIT_STATUSES, AuditReader, AuditReadError, CallFilter


def audit_model(reader: AuditReader, flt: CallFilter, limit: int = 200) -> dict[str, Any]:
    try:
        return {"calls": reader.calls(flt, limit), "summary": reader.summary(flt),
                "tools": reader.tools(), "error": None}  # fmt: skip
    except AuditReadError as exc:
        return {"calls": [], "summary": None, "tools": [], "error": str(exc)}


def render_audit(m: dict[str, Any], flt: CallFilter) -> str:
    form = ('<form class="inline" method="get" action="/audit">'
            f'<label>tool{select("tool", m["tools"], flt.tool, blank="all")}</label>'
            f'<label>status{select("status", list(AUDIT_STATUSES), flt.status, blank="all")}</label>'
            f'<label>since (UTC){_input("since", flt.since)}</label>'
            f'<label>until (UTC){_input("until", flt.until)}</label><button>filter</button></form>')  # fmt: skip
    if m["error"]:
        return form + f'<p class="err">{e(m["error"])}</p>'
    s = m["summary"]
    head = cards({"calls": num(s["calls"]), **{k: num(v) for k, v in s["by_status"].items()}})
    per_tool = table(
        ["tool", "calls", "ok", "clamped", "rejected", "error", "rows", "p50 ms", "p95 ms", "p99 ms", "max ms"],
        [[t["tool"], t["calls"], t["ok"], t["clamped"], t["rejected"], t["error"], t["rows"],
          num(t["p50_ms"], 1), num(t["p95_ms"], 1), num(t["p99_ms"], 1), num(t["max_ms"], 1)]
         for t in s["tools"]], cls="tools")  # fmt: skip
    calls = table(
        ["time", "tool", "arguments", "status", "rows", "ms", "error"],
        [[c["ts"], c["tool"], c["arguments"], c["status"], c["rows"], num(c["duration_ms"], 1),
          c["error"] or ""] for c in m["calls"]], cls="calls")  # fmt: skip
    return (
        form
        + head
        + "<h2>Per tool</h2>"
        + per_tool
        + f"<h2>Calls (newest {len(m['calls'])})</h2>"
        + calls
    )


def _input(name: str, value: str | None) -> str:
    return f'<input name="{name}" value="{e(value)}" placeholder="2026-11-30T14:00">'
