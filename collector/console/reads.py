"""The console's one door to the read side: the read-only query functions the MCP server uses.

Every page asks through this module, never the files or the ledger directly, so the console
and the MCP server answer the same question the same way: both import shared/queries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import polars as pl

from shared.calendar import ET, get_session, now_et
from shared.config import AppConfig
from shared.due import due_slots, recent_sessions, slots_of
from shared.ledger import LedgerReader
from shared.queries import files
from shared.queries.analysis import (
    atm_term_structure,
    iv_smile,
    oi_gamma_by_strike,
    put_call_ratios,
)
from shared.queries.context import ServerContext
from shared.queries.health import health_overview
from shared.queries.paths import QueryError
from shared.queries.runs import list_recent_runs

__all__ = ["QueryError", "Reads"]

TABLE_KEYS = ("points", "term_structure", "by_expiry", "strikes", "runs")


def as_records(value: Any) -> Any:
    """A query's table as one dict per row: compact {columns, rows} tables become records,
    lists of records stay as they are (the pages read rows by column name)."""
    if isinstance(value, dict) and "columns" in value and "rows" in value:
        return [dict(zip(value["columns"], row, strict=True)) for row in value["rows"]]
    return value


def _records(reply: dict[str, Any]) -> dict[str, Any]:
    return {k: as_records(v) if k in TABLE_KEYS else v for k, v in reply.items()}


@dataclass(frozen=True)
class Reads:
    """Read-only access for one console process (raw and clean views both readable)."""

    ctx: ServerContext

    @classmethod
    def open(cls, cfg: AppConfig) -> Reads:
        return cls(ServerContext.build(cfg, allow_raw=True, allow_clean=True))

    @property
    def cfg(self) -> AppConfig:
        return self.ctx.cfg

    @property
    def ledger(self) -> LedgerReader:
        return self.ctx.ledger

    # --- which session -----------------------------------------------------------------------
    def default_session(self, now: datetime | None = None) -> date:
        """Today's session if anything was written for it, else the newest written date."""
        today = recent_sessions(1, now_et(now).date())[0]
        if self.ledger.partitions_for_date(today):
            return today
        return self.ctx.latest_date("intraday") or self.ctx.latest_date("daily_clean") or today

    def recent_sessions(self, n: int, before: date) -> list[date]:
        return recent_sessions(n, before)

    def as_of(self, day: date, now: datetime | None = None) -> datetime:
        """The instant to judge `day` at: now for the current session, else the next midnight."""
        current = now_et(now)
        end = datetime.combine(day + timedelta(days=1), time(0), ET) - timedelta(seconds=1)
        return current if end >= current else end

    # --- overview ----------------------------------------------------------------------------
    def health(self, day: date, now: datetime | None = None) -> dict[str, Any]:
        return health_overview(self.ctx, now=self.as_of(day, now))

    def slots(self, day: date) -> list[str]:
        session = get_session(day)
        return slots_of(self.cfg, session) if session else []

    def due(self, day: date, now: datetime | None = None) -> dict[str, list[str]]:
        session = get_session(day)
        return due_slots(self.cfg, session, self.as_of(day, now)) if session else {}

    def universe(self, view: str = "intraday") -> tuple[str, ...]:
        return self.ctx.universe_for(view)

    def partitions(self, day: date, view: str) -> list[dict[str, Any]]:
        return self.ledger.partitions_for_date(day, view)

    def runs_of(self, day: date) -> list[dict[str, Any]]:
        return self.ledger.runs_for_dates([day])

    def missed(self, task: str, day: date) -> list[str]:
        return self.ledger.missed_slots(task, day)

    def recent_runs(self, limit: int = 20, task: str | None = None) -> list[dict[str, Any]]:
        return list(_records(list_recent_runs(self.ctx, limit, task, None))["runs"])

    def run(self, run_id: str) -> dict[str, Any] | None:
        return self.ledger.run(run_id)

    # --- history and analysis -----------------------------------------------------------------
    def smile(self, symbol: str, day: str | None, view: str, slot: str | None,
              expiry: str | None = None) -> dict[str, Any]:  # fmt: skip
        return _records(iv_smile(self.ctx, symbol, expiry=expiry, day=day, view=view, slot=slot))

    def term(self, symbol: str, day: str | None, view: str, slot: str | None) -> dict[str, Any]:
        return _records(atm_term_structure(self.ctx, symbol, day=day, view=view, slot=slot))

    def ratios(self, symbol: str, day: str | None, view: str, slot: str | None) -> dict[str, Any]:
        return _records(put_call_ratios(self.ctx, symbol, day=day, view=view, slot=slot))

    def gex(self, symbol: str, day: str | None, view: str, slot: str | None) -> dict[str, Any]:
        return _records(oi_gamma_by_strike(self.ctx, symbol, day=day, view=view, slot=slot))

    def front_atm_iv(self, symbol: str, day: date, view: str, slot: str | None) -> float | None:
        """ATM IV of the nearest expiry (dte >= 1 when there is one) of one partition."""
        try:
            term = self.term(symbol, day.isoformat(), view, slot)["term_structure"]
        except QueryError:
            return None
        usable = [p for p in term if p.get("atm_iv") is not None]
        later = [p for p in usable if (p.get("dte") or 0) >= 1]
        pick = (later or usable)[:1]
        return float(pick[0]["atm_iv"]) if pick else None

    def written_slots(self, symbol: str, day: date) -> list[str]:
        return sorted(
            p["slot"] for p in self.partitions(day, "intraday") if p["underlying"] == symbol
        )

    def history_bars(self, symbol: str) -> pl.DataFrame:
        """Daily bars of `history` (clean/ib/history/bar=1d), oldest first; empty if none."""
        path = self.ctx.layout.history_file(self.ctx.access.symbol(symbol))
        if not path.is_file():
            return pl.DataFrame()
        frame = pl.from_arrow(files.read_table(path))  # a local file or an object's key
        assert isinstance(frame, pl.DataFrame)
        return frame.sort("bar_date")
