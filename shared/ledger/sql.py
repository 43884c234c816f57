"""The run ledger's named reads and writes: `runs` and `partitions`, for both backends.

The collector is the only writer (Ledger). Readers such as the MCP server use
LedgerReader, which opens the ledger read-only so it cannot write by construction.
All of the ledger's SQL lives in this package: the questions here ("the latest slot of
AAPL on this date"), written once with `?` marks, and the per-backend DDL and connection
in backend.py. Callers never write SQL of their own.

Runs carry the collector's shard ("1/2", or "" when the universe is not split), so one
shard's resume chain and retry queue never include another shard's runs.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from shared.ledger.backend import backend_for
from shared.ledger.location import LedgerLocation

RUN_STATUSES = ("running", "ok", "partial", "failed", "missed")
RUN_COLUMNS = ("run_id", "task", "trade_date", "slot", "status", "started_at", "finished_at",
               "duration_s", "rows_written", "total", "succeeded", "failed", "error_summary",
               "details", "shard")  # fmt: skip
PARTITION_COLUMNS = ("view", "trade_date", "underlying", "slot", "path", "rows", "bytes",
                     "quote_fill", "greeks_fill", "delayed_rows", "run_id", "written_at")  # fmt: skip
# Added later (backend._ADDED_COLUMNS): every writer fills them; only `file_summaries` reads
# them, so readers keep working on a ledger that no writer has migrated yet.
PARTITION_SUMMARY_COLUMNS = ("served_delayed",)
# A run killed mid-way stays `running`; the next run of its slot marks it failed with this
# prefix, and resume treats both as one chain of dead runs.
INTERRUPTED = "interrupted"


def utcnow_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def new_run_id(task: str) -> str:
    return f"{task}-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class PartitionRecord:
    view: str
    trade_date: date
    underlying: str
    slot: str  # "" for daily_clean
    path: str
    rows: int
    bytes: int
    quote_fill: float | None = None
    greeks_fill: float | None = None
    delayed_rows: int = 0
    # rows QA counts as served delayed (delayed_fallback, or market data type 3/4), counted
    # by the writer so the checks need not read the file; None when the writer did not count
    served_delayed: int | None = None


class Ledger:
    """Writer side (collector only). Short transactions; readers run alongside."""

    def __init__(self, location: LedgerLocation) -> None:
        self.location = location
        self._db = backend_for(location)
        self._db.create_schema()

    def start_run(
        self,
        task: str,
        trade_date: date | None,
        slot: str | None = None,
        run_id: str | None = None,
        shard: str = "",
    ) -> str:
        rid = run_id or new_run_id(task)
        with self._db.writer() as con:
            con.run(
                "INSERT INTO runs (run_id, task, trade_date, slot, status, started_at, shard) "
                "VALUES (?,?,?,?,?,?,?)",
                (
                    rid,
                    task,
                    trade_date.isoformat() if trade_date else None,
                    slot,
                    "running",
                    utcnow_iso(),
                    shard,
                ),
            )
        return rid

    def finish_run(
        self,
        run_id: str,
        status: str,
        *,
        rows_written: int = 0,
        total: int = 0,
        succeeded: int = 0,
        failed: int = 0,
        error_summary: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        if status not in RUN_STATUSES:
            raise ValueError(f"bad run status {status!r}")
        now = datetime.now(UTC)
        with self._db.writer() as con:
            rows = con.rows("SELECT started_at FROM runs WHERE run_id=?", (run_id,))
            started = rows[0]["started_at"] if rows else None
            duration = (now - datetime.fromisoformat(started)).total_seconds() if started else None
            con.run(
                "UPDATE runs SET status=?, finished_at=?, duration_s=?, rows_written=?, total=?, "
                "succeeded=?, failed=?, error_summary=?, details=? WHERE run_id=?",
                (
                    status,
                    now.isoformat(timespec="seconds"),
                    duration,
                    rows_written,
                    total,
                    succeeded,
                    failed,
                    error_summary,
                    json.dumps(details, default=str) if details else None,
                    run_id,
                ),
            )

    def record_missed(
        self, task: str, trade_date: date, slot: str | None, reason: str, shard: str = ""
    ) -> str:
        rid = self.start_run(task, trade_date, slot, shard=shard)
        self.finish_run(rid, "missed", error_summary=reason)
        return rid

    def mark_interrupted(
        self, task: str, trade_date: date | None, by_run_id: str, shard: str = ""
    ) -> list[str]:
        """Runs of `task` (no slot) of this shard for the date still `running` -> failed:
        interrupted.

        Called by the next run of the task while it holds the task's (shard's) lock, so a row
        left `running` belongs to a process that died (SIGKILL, power loss) without finishing.
        """
        day = trade_date.isoformat() if trade_date else None
        same_day = "trade_date = ?" if day else "trade_date IS NULL"
        with self._db.writer() as con:
            rows = con.rows(
                f"SELECT run_id FROM runs WHERE task=? AND {same_day} AND slot IS NULL "
                "AND shard=? AND status='running' AND run_id != ?",
                (task, *((day,) if day else ()), shard, by_run_id),
            )
        dead = [str(r["run_id"]) for r in rows]
        for rid in dead:
            self.finish_run(rid, "failed", error_summary=f"{INTERRUPTED}; found by {by_run_id}")
        return dead

    def record_partition(self, rec: PartitionRecord, run_id: str | None) -> None:
        self.record_partitions([rec], run_id)

    def record_partitions(self, recs: list[PartitionRecord], run_id: str | None) -> None:
        """Record many written files in one transaction (one commit, one WAL sync)."""
        self.record_partitions_with_runs([(rec, run_id) for rec in recs])

    def add_streamed(self, recs: list[PartitionRecord], run_id: str) -> None:
        """Streaming: add each record's rows and bytes to its (view, date, underlying, slot)
        row, so one row per underlying and day sums every part of every run (a restart adds
        to it instead of replacing the earlier runs' parts)."""
        now = utcnow_iso()
        keys = ("view", "trade_date", "underlying", "slot", "path", "rows", "bytes",
                "run_id", "written_at")  # fmt: skip
        sql = (
            f"INSERT INTO partitions ({','.join(keys)}) VALUES ({','.join('?' * len(keys))}) "
            "ON CONFLICT (view, trade_date, underlying, slot) DO UPDATE SET "
            "path=excluded.path, rows=partitions.rows + excluded.rows, "
            "bytes=partitions.bytes + excluded.bytes, run_id=excluded.run_id, "
            "written_at=excluded.written_at"
        )
        params = [
            (r.view, r.trade_date.isoformat(), r.underlying, r.slot, r.path, r.rows, r.bytes,
             run_id, now)
            for r in recs
        ]  # fmt: skip
        with self._db.writer() as con:
            con.run_many(sql, params)

    def record_partitions_with_runs(self, items: list[tuple[PartitionRecord, str | None]]) -> None:
        """Like record_partitions, each file keeping its own run (e.g. re-pointed rows)."""
        now = utcnow_iso()
        with self._db.writer() as con:
            con.run_many(
                _upsert("partitions", PARTITION_COLUMNS + PARTITION_SUMMARY_COLUMNS),
                [
                    (
                        rec.view,
                        rec.trade_date.isoformat(),
                        rec.underlying,
                        rec.slot,
                        rec.path,
                        rec.rows,
                        rec.bytes,
                        rec.quote_fill,
                        rec.greeks_fill,
                        rec.delayed_rows,
                        run_id,
                        now,
                        rec.served_delayed,
                    )
                    for rec, run_id in items
                ],
            )

    def forget_partition(self, view: str, trade_date: date, underlying: str, slot: str) -> None:
        with self._db.writer() as con:
            con.run(
                "DELETE FROM partitions WHERE view=? AND trade_date=? AND underlying=? AND slot=?",
                (view, trade_date.isoformat(), underlying, slot),
            )

    def bulk_load(
        self,
        partitions: Sequence[Mapping[str, Any]] = (),
        runs: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        """Insert or update many rows in one transaction (imports, synthetic stores).

        Keys are column names; a key that is not a column is a ValueError, not SQL.
        """
        with self._db.writer() as con:
            for table, columns, rows in (
                ("partitions", PARTITION_COLUMNS + PARTITION_SUMMARY_COLUMNS, partitions),
                ("runs", RUN_COLUMNS, runs),
            ):
                for keys, group in _by_keys(rows).items():
                    unknown = set(keys) - set(columns)
                    if unknown:
                        raise ValueError(f"not {table} columns: {sorted(unknown)}")
                    con.run_many(_upsert(table, keys), [tuple(r[k] for k in keys) for r in group])


_PRIMARY_KEYS = {"runs": ("run_id",), "partitions": ("view", "trade_date", "underlying", "slot")}


def _upsert(table: str, keys: Sequence[str]) -> str:
    """INSERT ... ON CONFLICT (primary key) DO UPDATE: the one spelling both SQLite and
    Postgres accept (SQLite's INSERT OR REPLACE is not Postgres)."""
    pk = _PRIMARY_KEYS[table]
    marks = ",".join("?" * len(keys))
    sql = f"INSERT INTO {table} ({','.join(keys)}) VALUES ({marks})"
    updates = [k for k in keys if k not in pk]
    if set(pk) <= set(keys):
        if updates:
            sets = ", ".join(f"{k}=excluded.{k}" for k in updates)
            sql += f" ON CONFLICT ({','.join(pk)}) DO UPDATE SET {sets}"
        else:
            sql += f" ON CONFLICT ({','.join(pk)}) DO NOTHING"
    return sql


# A later run of the same task and slot that ended like this repairs a miss. (A partial run
# that still lacks contracts records a new miss after itself, so it stays queued.)
REPAIRED = ("ok", "partial")


def unrepaired_missed(runs: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The missed records with no later repairing run of the same (task, slot, shard).

    `runs` in start order. The ledger keeps every record; only the alarm is cleared:
    `--retry-missed`, `--replay-missed` or a plain rerun that succeeds repairs the slot
    for the retry queue, the selfcheck and the MCP server alike.
    """
    open_: dict[tuple[Any, Any, Any], Mapping[str, Any]] = {}
    for r in runs:  # one shard's run repairs only its own shard's miss
        key = (r.get("task"), r.get("slot"), r.get("shard") or "")
        if r.get("status") == "missed":
            open_[key] = r
        elif r.get("status") in REPAIRED:
            open_.pop(key, None)
    return list(open_.values())


def _by_keys(rows: Sequence[Mapping[str, Any]]) -> dict[tuple[str, ...], list[Mapping[str, Any]]]:
    groups: dict[tuple[str, ...], list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(row), []).append(row)
    return groups


_RUNS = "SELECT " + ", ".join(RUN_COLUMNS) + " FROM runs"
_PARTITIONS = "SELECT " + ", ".join(PARTITION_COLUMNS) + " FROM partitions"


class LedgerReader:
    """Read-only access: it cannot create, migrate or write the ledger."""

    def __init__(self, location: LedgerLocation, keep_open: bool = False) -> None:
        """keep_open: one connection per thread, kept for the reader's life (a long-lived
        server: opening one per read cost a health_overview call 11 connects). Each read
        still runs in its own transaction, so it sees the latest commits."""
        self.location = location
        self.keep_open = keep_open
        self._db = backend_for(location)

    @property
    def path(self) -> LedgerLocation:
        """The ledger's location (file or redacted URL), e.g. as a cache key."""
        return self.location

    def exists(self) -> bool:
        return self._db.exists()

    def close(self) -> None:
        """The reader is done: close its kept connections (keep_open; on Postgres those of
        every thread, which process exit also does). A later read opens a new one."""
        self._db.close_all()

    def __enter__(self) -> LedgerReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def data_version(self) -> int | None:
        """A number that changes whenever another connection commits (SQLite's PRAGMA
        data_version on the kept connection), so a reader may keep answers derived from the
        ledger until it does; None without a kept connection, and on Postgres."""
        if not self.keep_open or not self.exists():
            return None
        return self._db.data_version()

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        if not self.exists():
            return []
        with self._db.reader(self.keep_open) as con:
            return list(con.rows(sql, params))

    def _one(self, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        rows = self._rows(sql, params)
        return rows[0] if rows else None

    # --- runs ---------------------------------------------------------------------------------
    def recent_runs(
        self, limit: int, task: str | None = None, status: str | None = None
    ) -> list[dict[str, Any]]:
        sql = _RUNS
        where: list[str] = []
        params: list[Any] = []
        if task:
            where.append("task = ?")
            params.append(task)
        if status:
            where.append("status = ?")
            params.append(status)
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY started_at DESC LIMIT ?"
        params.append(limit)
        return self._rows(sql, params)

    def runs_for_dates(self, dates: list[date]) -> list[dict[str, Any]]:
        if not dates:
            return []
        marks = ",".join("?" * len(dates))
        return self._rows(
            f"{_RUNS} WHERE trade_date IN ({marks}) ORDER BY started_at, {self._db.order_key}",
            [d.isoformat() for d in dates],
        )

    def run(self, run_id: str) -> dict[str, Any] | None:
        """One run row by its id (the console's link from a slot cell)."""
        return self._one("SELECT * FROM runs WHERE run_id = ?", [run_id])

    def status_counts(self, trade_date: date) -> dict[str, int]:
        """Runs of a trade date per status."""
        rows = self._rows(
            "SELECT status, COUNT(*) AS n FROM runs WHERE trade_date = ? GROUP BY status",
            [trade_date.isoformat()],
        )
        return {r["status"]: int(r["n"]) for r in rows}

    def recent_problems(self, trade_date: date, limit: int = 5) -> list[dict[str, Any]]:
        """The newest failed, partial or missed runs of a trade date."""
        return self._rows(
            "SELECT task, slot, error_summary, started_at FROM runs WHERE trade_date = ? "
            "AND status IN ('failed', 'partial', 'missed') ORDER BY started_at DESC LIMIT ?",
            [trade_date.isoformat(), limit],
        )

    def missed_slots(self, task: str, trade_date: date, shard: str = "") -> list[str]:
        """The retry queue of one shard: slots of `task` whose latest missed record has no
        later repair."""
        runs = self._rows(
            "SELECT task, slot, status, shard FROM runs WHERE task=? AND trade_date=? AND shard=? "
            f"AND slot IS NOT NULL ORDER BY started_at, {self._db.order_key}",
            [task, trade_date.isoformat(), shard],
        )
        return sorted(str(r["slot"]) for r in unrepaired_missed(runs))

    def resume_chain(self, task: str, trade_date: date, slot: str, shard: str = "") -> list[str]:
        """Run ids of one shard's newest unbroken chain of dead runs of one slot, newest first.

        A dead run is one left `running` (killed) or already marked failed as interrupted;
        the chain stops at the first run that ended any other way.
        """
        key = self._db.order_key
        runs = self._rows(
            "SELECT run_id, status, error_summary FROM runs WHERE task=? AND trade_date=? "
            f"AND slot=? AND shard=? ORDER BY started_at DESC, {key} DESC",
            [task, trade_date.isoformat(), slot, shard],
        )
        chain: list[str] = []
        for r in runs:
            dead = r["status"] == "running" or (
                r["status"] == "failed" and (r["error_summary"] or "").startswith(INTERRUPTED)
            )
            if not dead:
                break
            chain.append(r["run_id"])
        return chain

    def shards_seen(self, trade_date: date) -> list[str]:
        """The shard labels ("i/N") of a trade date's runs, "" when a run was unsharded."""
        rows = self._rows(
            "SELECT DISTINCT shard FROM runs WHERE trade_date = ? ORDER BY shard",
            [trade_date.isoformat()],
        )
        return [str(r["shard"]) for r in rows]

    # --- partitions ---------------------------------------------------------------------------
    def partitions_for_date(
        self, trade_date: date, view: str | None = None
    ) -> list[dict[str, Any]]:
        if view:
            return self._rows(
                _PARTITIONS + " WHERE trade_date=? AND view=?",
                [trade_date.isoformat(), view],
            )
        return self._rows(_PARTITIONS + " WHERE trade_date=?", [trade_date.isoformat()])

    def file_summaries(self, trade_date: date, view: str) -> list[dict[str, Any]]:
        """Every partitions row of one view and date with what its writer counted
        (PARTITION_SUMMARY_COLUMNS; None on rows written before, or on a ledger no writer
        has migrated yet), so a check can take a file's counts without reading it."""
        rows = self._rows(
            "SELECT * FROM partitions WHERE trade_date=? AND view=?", [trade_date.isoformat(), view]
        )
        return [{**dict.fromkeys(PARTITION_SUMMARY_COLUMNS), **r} for r in rows]

    def partition(
        self, view: str, trade_date: date, underlying: str, slot: str
    ) -> dict[str, Any] | None:
        return self._one(
            _PARTITIONS + " WHERE view=? AND trade_date=? AND underlying=? AND slot=?",
            [view, trade_date.isoformat(), underlying, slot],
        )

    def partition_dates(self, view: str) -> list[date]:
        """Every trade date a view has partitions on, oldest first."""
        rows = self._rows(
            "SELECT DISTINCT trade_date FROM partitions WHERE view=? ORDER BY trade_date", [view]
        )
        return [date.fromisoformat(r["trade_date"]) for r in rows]

    def latest_date(self, view: str, underlying: str | None = None) -> date | None:
        """The newest trade date with a partition of `view` (of one underlying if given)."""
        sql = "SELECT MAX(trade_date) AS d FROM partitions WHERE view = ?"
        params: list[Any] = [view]
        if underlying:
            sql += " AND underlying = ?"
            params.append(underlying)
        row = self._one(sql, params)
        return date.fromisoformat(row["d"]) if row and row["d"] else None

    def latest_slot(
        self, view: str, trade_date: date, underlying: str, before: str | None = None
    ) -> str | None:
        """The newest recorded slot of one underlying on a date (strictly before `before`)."""
        sql = "SELECT MAX(slot) AS slot FROM partitions WHERE view=? AND trade_date=? AND underlying=?"
        params: list[Any] = [view, trade_date.isoformat(), underlying]
        if before is not None:
            sql += " AND slot < ?"
            params.append(before)
        row = self._one(sql, params)
        return str(row["slot"]) if row and row["slot"] else None

    def underlyings_written_by(
        self, view: str, trade_date: date, slot: str, run_ids: Sequence[str]
    ) -> set[str]:
        """Underlyings whose partition of one slot was recorded by one of `run_ids`."""
        if not run_ids:
            return set()
        marks = ",".join("?" * len(run_ids))
        rows = self._rows(
            "SELECT underlying FROM partitions WHERE view=? AND trade_date=? AND slot=? "
            f"AND run_id IN ({marks})",
            [view, trade_date.isoformat(), slot, *run_ids],
        )
        return {r["underlying"] for r in rows}

    def day_summary(self, view: str, trade_date: date) -> dict[str, Any]:
        """Counts and fill sums over one view's partitions of a date (health, coverage)."""
        row = self._one(
            "SELECT COUNT(*) AS n, SUM(rows) AS rows, SUM(delayed_rows) AS delayed, "
            "SUM(greeks_fill * rows) AS greeks, SUM(quote_fill * rows) AS quotes, "
            "SUM(CASE WHEN rows = 0 THEN 1 ELSE 0 END) AS empty, CAST(SUM(bytes) AS BIGINT) AS bytes, "
            "MAX(slot) AS slot, MAX(written_at) AS written_at "
            "FROM partitions WHERE view = ? AND trade_date = ?",
            [view, trade_date.isoformat()],
        )
        return row or {"n": 0}

    # --- what is stored: discovery reads (MCP list tools and "nearest that exists" errors) ---
    def underlying_ranges(self, view: str | None = None) -> list[dict[str, Any]]:
        """Per (view, underlying): first and last trade date, sessions and partitions stored."""
        where, params = ("WHERE view = ?", (view,)) if view else ("", ())
        return self._rows(
            "SELECT underlying, view, MIN(trade_date) AS first_date, MAX(trade_date) AS last_date, "
            "COUNT(DISTINCT trade_date) AS sessions, COUNT(*) AS partitions FROM partitions "
            f"{where} GROUP BY underlying, view ORDER BY underlying, view",
            params,
        )

    def session_slots(
        self, view: str, symbol: str | None, start: date, end: date
    ) -> list[dict[str, Any]]:
        """Per (trade_date, slot) of a view between two dates: partitions and rows, newest first."""
        sql = (
            "SELECT trade_date, slot, COUNT(*) AS partitions, SUM(rows) AS rows FROM partitions "
            "WHERE view = ? AND trade_date BETWEEN ? AND ?"
        )
        params: tuple[Any, ...] = (view, start.isoformat(), end.isoformat())
        if symbol:
            sql += " AND underlying = ?"
            params += (symbol,)
        return self._rows(sql + " GROUP BY trade_date, slot ORDER BY trade_date DESC, slot", params)

    def nearest_dates(self, view: str, symbol: str, day: date) -> tuple[date | None, date | None]:
        """The closest trade dates before and after `day` holding the underlying in the view."""
        found: list[date | None] = []
        for op, agg in (("<", "MAX"), (">", "MIN")):
            rows = self._rows(
                f"SELECT {agg}(trade_date) AS d FROM partitions "
                f"WHERE view = ? AND underlying = ? AND trade_date {op} ?",
                (view, symbol, day.isoformat()),
            )
            value = rows[0]["d"] if rows else None
            found.append(date.fromisoformat(value) if value else None)
        return found[0], found[1]

    def slots_on(self, view: str, day: date, symbol: str) -> list[str]:
        """The slots the ledger holds for one underlying on one date, in order."""
        rows = self._rows(
            "SELECT slot FROM partitions WHERE view = ? AND trade_date = ? AND underlying = ? "
            "ORDER BY slot",
            (view, day.isoformat(), symbol),
        )
        return [str(r["slot"]) for r in rows]
