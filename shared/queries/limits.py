"""Row and day caps of every tool, and the `meta` block each response carries.

A request asking for too much (or for a negative amount) is not rejected: it is clamped
to the nearest allowed value and `meta.clamped` says so, with what was asked for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.config import MCPConfig


@dataclass(frozen=True)
class Cap:
    """One bounded parameter: its default, and the inclusive range it is clamped to."""

    name: str
    default: int
    maximum: int
    minimum: int = 1

    def describe(self) -> str:
        return f"default {self.default}, clamped to {self.minimum}-{self.maximum}"


@dataclass(frozen=True)
class Limits:
    """Every cap the server enforces; `mcp.default_limit/max_limit` come from the config."""

    rows: Cap = Cap("limit", 200, 2000)
    days: Cap = Cap("days", 3, 14)
    runs: Cap = Cap("limit", 20, 200)
    sample: Cap = Cap("limit", 100, 1000)
    run_status_days: Cap = Cap("days", 3, 14)
    underlyings: Cap = Cap("limit", 500, 5000)
    sessions: Cap = Cap("limit", 30, 400)
    # Files a single get_partition_issues call may open to look inside (duplicates,
    # rollup fallbacks, missing OI, corrupt footers); beyond it meta.partial is set.
    max_files_read: int = 600
    # Bytes read from one small JSON run log (selfcheck, logscan summary).
    max_log_bytes: int = 256 * 1024
    # Entries listed in one directory before the listing stops (bounded listings only).
    max_dir_entries: int = 20_000
    query_timeout_sec: float = 10.0

    @classmethod
    def from_config(cls, mcp: MCPConfig) -> Limits:
        rows = Cap("limit", min(mcp.default_limit, mcp.max_limit), mcp.max_limit)
        return cls(rows=rows, query_timeout_sec=mcp.query_timeout_sec)

    def as_dict(self) -> dict[str, Any]:
        return {
            "get_partition_issues.limit": self.rows.describe(),
            "get_partition_issues.days": self.days.describe(),
            "run_status_overview.days": self.run_status_days.describe(),
            "list_recent_runs.limit": self.runs.describe(),
            "get_chain_sample.limit": self.sample.describe(),
            "analysis tools.limit": self.rows.describe(),
            "list_underlyings.limit": self.underlyings.describe(),
            "list_sessions.limit": self.sessions.describe(),
            "max_files_read_per_call": self.max_files_read,
            "max_log_bytes": self.max_log_bytes,
            "max_dir_entries": self.max_dir_entries,
            "query_timeout_sec": self.query_timeout_sec,
        }


@dataclass
class Clamped:
    value: int
    requested: int | None
    clamped: bool


def clamp(cap: Cap, requested: int | None) -> Clamped:
    """None means the default; anything outside [minimum, maximum] moves to the nearest end."""
    if requested is None:
        return Clamped(cap.default, None, False)
    value = max(cap.minimum, min(cap.maximum, int(requested)))
    return Clamped(value, int(requested), value != requested)


@dataclass
class Meta:
    """Collects what a query did; `as_dict()` is the response's `meta`."""

    limit: int | None = None
    clamped: bool = False
    source: list[str] = field(default_factory=list)
    rows: int = 0
    truncated: bool = False
    next_cursor: str | None = None
    # relative or omitted arguments as resolved ({"date": "2026-11-27", "slot": "16:00"})
    resolved: dict[str, str | None] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def apply(self, c: Clamped, name: str = "limit") -> int:
        """Record one clamped parameter; the first one named `limit` sets meta.limit."""
        if name == "limit":
            self.limit = c.value
        else:
            self.extra[name] = c.value
        if c.clamped:
            self.clamped = True
            self.extra.setdefault("requested", {})[name] = c.requested
            self.notes.append(f"{name}={c.requested} was clamped to {c.value}")
        return c.value

    def add_source(self, source: str) -> None:
        if source not in self.source:
            self.source.append(source)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "limit": self.limit,
            "clamped": self.clamped,
            "source": self.source,
            "rows": self.rows,
            "truncated": self.truncated,
        }
        if self.next_cursor:
            out["next_cursor"] = self.next_cursor
        if self.resolved:
            out["resolved"] = self.resolved
        out.update(self.extra)
        if self.notes:
            out["notes"] = self.notes
        return out


def take(rows: list[Any], limit: int, meta: Meta) -> list[Any]:
    """Keep the first `limit` rows; meta records the count and whether more existed."""
    meta.truncated = meta.truncated or len(rows) > limit
    kept = rows[:limit]
    meta.rows = len(kept)
    return kept
