"""The two ledger backends: how to connect, open read-only, and lay the schema.

Everything a backend differs in lives here - the driver, the DDL types, the placeholder
style, the insertion-order column - so shared/ledger/sql.py can ask its named questions
once for both. SQLite (a file under state/, WAL) is the embedded default; Postgres is the
ledger several collectors share. Readers open read-only: SQLite by `mode=ro`, Postgres by
a read-only session (`default_transaction_read_only`), so a reader cannot write either.
"""

from __future__ import annotations

import atexit
import sqlite3
import threading
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from shared.ledger.location import LedgerError, LedgerLocation, LedgerURL

_TABLES = """
CREATE TABLE IF NOT EXISTS runs (
    {seq}
    run_id        TEXT PRIMARY KEY,
    task          TEXT NOT NULL,
    trade_date    TEXT {collate},
    slot          TEXT {collate},
    status        TEXT NOT NULL CHECK (status IN ('running', 'ok', 'partial', 'failed', 'missed')),
    started_at    TEXT NOT NULL,
    finished_at   TEXT,
    duration_s    {real},
    rows_written  INTEGER DEFAULT 0,
    total         INTEGER DEFAULT 0,
    succeeded     INTEGER DEFAULT 0,
    failed        INTEGER DEFAULT 0,
    error_summary TEXT,
    details       TEXT,
    shard         TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS runs_by_date ON runs (trade_date, task);
CREATE INDEX IF NOT EXISTS runs_by_start ON runs (started_at);
CREATE TABLE IF NOT EXISTS partitions (
    view          TEXT NOT NULL,
    trade_date    TEXT NOT NULL {collate},
    underlying    TEXT NOT NULL {collate},
    slot          TEXT NOT NULL DEFAULT '' {collate},
    path          TEXT NOT NULL,
    rows          INTEGER NOT NULL,
    bytes         BIGINT NOT NULL,
    quote_fill    {real},
    greeks_fill   {real},
    delayed_rows  INTEGER DEFAULT 0,
    run_id        TEXT,
    written_at    TEXT NOT NULL,
    served_delayed INTEGER,
    PRIMARY KEY (view, trade_date, underlying, slot)
);
CREATE INDEX IF NOT EXISTS partitions_by_underlying ON partitions (view, underlying, trade_date);
"""
# partitions_by_underlying serves the reads by symbol across dates (list_underlyings' ranges,
# list_sessions, nearest dates), which the primary key (view, trade_date, ...) cannot: without
# it they scan every partition. IF NOT EXISTS makes it the migration of an older ledger too.
# Columns added after a ledger was first created: (table, column, DDL) - old files gain them.
_ADDED_COLUMNS = (
    ("runs", "shard", "TEXT NOT NULL DEFAULT ''"),
    ("partitions", "served_delayed", "INTEGER"),
)
# Any constant: two collectors starting at once must not both create the tables.
_SCHEMA_LOCK_KEY = 0x6F70745F6C6564


class Conn(Protocol):
    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]: ...

    def run(self, sql: str, params: Sequence[Any] = ()) -> None: ...

    def run_many(self, sql: str, params: Sequence[Sequence[Any]]) -> None: ...


class Backend(Protocol):
    location: LedgerLocation
    order_key: str  # the column that orders rows by insertion (ties of started_at)

    def exists(self) -> bool: ...

    def create_schema(self) -> None: ...

    def writer(self) -> Any: ...  # context manager -> Conn, one transaction

    def reader(self, keep_open: bool = False) -> Any: ...  # context manager -> Conn, read-only

    def data_version(self) -> int | None: ...

    def close_kept(self) -> None: ...

    def close_all(self) -> None: ...


class _SqliteConn:
    def __init__(self, con: sqlite3.Connection) -> None:
        self.con = con

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        return [dict(r) for r in self.con.execute(sql, tuple(params)).fetchall()]

    def run(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.con.execute(sql, tuple(params))

    def run_many(self, sql: str, params: Sequence[Sequence[Any]]) -> None:
        self.con.executemany(sql, [tuple(p) for p in params])


class SqliteBackend:
    order_key = "rowid"

    def __init__(self, path: Path) -> None:
        self.location: LedgerLocation = path
        self.path = path
        self._kept = threading.local()  # keep_open: one connection per thread

    def exists(self) -> bool:
        return self.path.is_file()

    def _open(self, uri: str, timeout: float) -> sqlite3.Connection:
        try:
            con = sqlite3.connect(uri, uri=True, timeout=timeout)
        except sqlite3.Error as exc:
            raise LedgerError(f"ledger {self.path}: {exc}") from None
        con.row_factory = sqlite3.Row
        return con

    def create_schema(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.writer() as conn:
            conn.con.execute("PRAGMA journal_mode=WAL")
            conn.con.executescript(_TABLES.format(seq="", collate="", real="REAL"))
            for table, column, ddl in _ADDED_COLUMNS:
                have = {r["name"] for r in conn.rows(f"PRAGMA table_info({table})")}
                if column not in have:
                    conn.run(f"ALTER TABLE {table} ADD COLUMN {column} {ddl}")

    @contextmanager
    def writer(self) -> Iterator[_SqliteConn]:
        con = self._open(f"file:{self.path}", 30)
        try:
            with con:
                yield _SqliteConn(con)
        finally:
            con.close()

    @contextmanager
    def reader(self, keep_open: bool = False) -> Iterator[_SqliteConn]:
        """keep_open: this thread's connection, kept for the reader's life (a long-lived
        server); each SELECT still runs in its own implicit transaction and sees the latest
        commits."""
        if keep_open:
            kept: sqlite3.Connection | None = getattr(self._kept, "con", None)
            if kept is None:
                kept = self._open(f"file:{self.path}?mode=ro", 5)
                self._kept.con = kept
            yield _SqliteConn(kept)
            return
        con = self._open(f"file:{self.path}?mode=ro", 5)
        try:
            yield _SqliteConn(con)
        finally:
            con.close()

    def close_kept(self) -> None:
        kept = getattr(self._kept, "con", None)
        if kept is not None:
            self._kept.con = None
            kept.close()

    def close_all(self) -> None:
        """This thread's kept connection (a SQLite connection is closed by its own thread;
        the others' end with their threads, and a file holds no server resources)."""
        self.close_kept()

    def data_version(self) -> int | None:
        """PRAGMA data_version of this thread's kept connection: it changes whenever another
        connection commits."""
        with self.reader(keep_open=True) as conn:
            return int(conn.rows("PRAGMA data_version")[0]["data_version"])


class _PgConn:
    def __init__(self, con: Any) -> None:
        self.con = con

    @staticmethod
    def _sql(sql: str) -> str:
        # The named SQL is written once with `?` marks; psycopg takes `%s`.
        return sql.replace("?", "%s")

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self.con.cursor() as cur:
            cur.execute(self._sql(sql), tuple(params))
            return [dict(r) for r in cur.fetchall()]

    def run(self, sql: str, params: Sequence[Any] = ()) -> None:
        with self.con.cursor() as cur:
            cur.execute(self._sql(sql), tuple(params))

    def run_many(self, sql: str, params: Sequence[Sequence[Any]]) -> None:
        with self.con.cursor() as cur:
            cur.executemany(self._sql(sql), [tuple(p) for p in params])


# Every Postgres backend with kept connections, so that process exit closes them (a server
# otherwise holds an idle backend per thread of a reader until the socket times out).
_LIVE: weakref.WeakSet[PostgresBackend] = weakref.WeakSet()


@atexit.register
def close_all_at_exit() -> None:
    for backend in list(_LIVE):
        backend.close_all()


class PostgresBackend:
    order_key = "seq"

    def __init__(self, url: LedgerURL) -> None:
        self.location: LedgerLocation = url
        self.url = url
        self._seen_tables = False  # tables are never dropped: once seen, skip the check
        self._kept = threading.local()
        # Kept connections of every thread: a worker thread's own can only be closed here.
        self._all_kept: set[Any] = set()
        self._guard = threading.Lock()

    def _connect(self, read_only: bool) -> Any:
        import psycopg  # the driver is only needed by a site that configured Postgres
        from psycopg.rows import dict_row

        options = "-c default_transaction_read_only=on" if read_only else ""
        try:
            con = psycopg.connect(
                self.url.secret(), row_factory=dict_row, connect_timeout=10, options=options
            )
        except psycopg.Error as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise LedgerError(f"ledger {self.url}: cannot connect: {first}") from None
        if read_only:
            con.read_only = True
        return con

    @contextmanager
    def _session(self, read_only: bool, keep_open: bool = False) -> Iterator[_PgConn]:
        """One transaction; keep_open reuses this thread's read-only connection (a new
        transaction each time, so every read sees the latest commits)."""
        import psycopg

        con = getattr(self._kept, "con", None) if keep_open else None
        if con is not None and con.closed:  # closed by close_all from another thread
            con = None
        if con is None:
            con = self._connect(read_only)
            if keep_open:
                self._keep(con)
        try:
            with con.transaction():
                yield _PgConn(con)
        except psycopg.Error as exc:
            if keep_open:  # a broken kept connection is replaced on the next read
                self._drop(con)
            first = str(exc).strip().splitlines()[0]
            raise LedgerError(f"ledger {self.url}: {first}") from None
        finally:
            if not keep_open:
                con.close()

    def exists(self) -> bool:
        if not self._seen_tables:
            with self.reader() as conn:
                row = conn.rows("SELECT to_regclass('runs') IS NOT NULL AS ok")
            self._seen_tables = bool(row and row[0]["ok"])
        return self._seen_tables

    def create_schema(self) -> None:
        with self.writer() as conn:
            conn.run(f"SELECT pg_advisory_xact_lock({_SCHEMA_LOCK_KEY})")
            ddl = _TABLES.format(
                seq="seq BIGSERIAL,", collate='COLLATE "C"', real="DOUBLE PRECISION"
            )
            for statement in ddl.split(";"):
                if statement.strip():
                    conn.run(statement)
            for table, column, col_ddl in _ADDED_COLUMNS:
                conn.run(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} {col_ddl}")

    def writer(self) -> Any:
        return self._session(read_only=False)

    def reader(self, keep_open: bool = False) -> Any:
        return self._session(read_only=True, keep_open=keep_open)

    def _keep(self, con: Any) -> None:
        self._kept.con = con
        with self._guard:
            self._all_kept.add(con)
        _LIVE.add(self)

    def _drop(self, con: Any) -> None:
        if getattr(self._kept, "con", None) is con:
            self._kept.con = None
        with self._guard:
            self._all_kept.discard(con)
        con.close()

    def close_kept(self) -> None:
        kept = getattr(self._kept, "con", None)
        if kept is not None:
            self._drop(kept)

    def close_all(self) -> None:
        """Close the kept connections of every thread (the reader is done, or the process
        exits); a later read opens a new one."""
        with self._guard:
            kept, self._all_kept = list(self._all_kept), set()
        for con in kept:
            con.close()

    def data_version(self) -> int | None:
        """None: Postgres has no cheap commit counter per database, so readers do not keep
        answers derived from it (each read asks the server)."""
        return None


def backend_for(location: LedgerLocation) -> SqliteBackend | PostgresBackend:
    if isinstance(location, LedgerURL):
        return PostgresBackend(location)
    return SqliteBackend(Path(location))
