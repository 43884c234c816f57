"""Read-only questions about the MCP audit DB (the writer and its schema: mcp_server/audit.py).

The console's Audit page and `opt-data audit` both ask here: the recent calls, filtered by
tool, status and time, and per-tool counts with latency percentiles. The file is opened
with `mode=ro`, so no reader can write to it or create it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

AUDIT_STATUSES = ("ok", "clamped", "rejected", "error")
CALL_COLUMNS = ("id", "ts", "tool", "arguments", "status", "rows", "duration_ms", "error")


class AuditReadError(RuntimeError):
    """The audit DB cannot be read; the message is one line for the operator."""


@dataclass(frozen=True)
class CallFilter:
    tool: str | None = None
    status: str | None = None
    since: str | None = None  # ISO timestamp (UTC), compared as text like the writer stores it
    until: str | None = None

    def where(self) -> tuple[str, list[Any]]:
        clauses, params = [], []
        for column, op, value in (("tool", "=", self.tool), ("status", "=", self.status),
                                  ("ts", ">=", self.since), ("ts", "<", self.until)):  # fmt: skip
            if value:
                clauses.append(f"{column} {op} ?")
                params.append(value)
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def percentile(ordered: list[float], q: float) -> float | None:
    """Nearest-rank percentile of an ascending list (None when empty)."""
    if not ordered:
        return None
    rank = max(1, -(-int(q * 100) * len(ordered) // 100))  # ceil(q * n), at least 1
    return ordered[min(rank, len(ordered)) - 1]


class AuditReader:
    def __init__(self, path: Path) -> None:
        self.path = path

    def exists(self) -> bool:
        return self.path.is_file()

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        if not self.path.is_file():
            raise AuditReadError(f"no MCP audit DB at {self.path}: the MCP server has not run yet")
        try:
            conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True)
        except sqlite3.Error as exc:
            raise AuditReadError(f"cannot open the MCP audit DB {self.path}: {exc}") from None
        conn.row_factory = sqlite3.Row
        with closing(conn):
            yield conn

    def calls(self, flt: CallFilter = CallFilter(), limit: int = 200) -> list[dict[str, Any]]:
        """Newest first."""
        where, params = flt.where()
        sql = f"SELECT {', '.join(CALL_COLUMNS)} FROM calls{where} ORDER BY id DESC LIMIT ?"
        with self._connect() as conn:
            return [dict(r) for r in conn.execute(sql, [*params, limit])]

    def tools(self) -> list[str]:
        with self._connect() as conn:
            return [r[0] for r in conn.execute("SELECT DISTINCT tool FROM calls ORDER BY tool")]

    def summary(self, flt: CallFilter = CallFilter()) -> dict[str, Any]:
        """Per tool: calls, per-status counts, rows, and p50/p95/p99/max of duration_ms."""
        where, params = flt.where()
        sql = f"SELECT tool, status, rows, duration_ms FROM calls{where} ORDER BY tool"
        per: dict[str, dict[str, Any]] = {}
        with self._connect() as conn:
            for tool, status, rows, ms in conn.execute(sql, params):
                t = per.setdefault(tool, {"calls": 0, "rows": 0, "ms": [],
                                          **{s: 0 for s in AUDIT_STATUSES}})  # fmt: skip
                t["calls"] += 1
                t["rows"] += rows or 0
                t[status] = t.get(status, 0) + 1
                t["ms"].append(float(ms))
        tools = []
        for tool, t in per.items():
            ms = sorted(t.pop("ms"))
            tools.append({"tool": tool, **t,
                          **{f"p{q}_ms": percentile(ms, q / 100) for q in (50, 95, 99)},
                          "max_ms": ms[-1] if ms else None})  # fmt: skip
        totals = {s: sum(t[s] for t in tools) for s in AUDIT_STATUSES}
        return {"calls": sum(t["calls"] for t in tools), "by_status": totals, "tools": tools}
