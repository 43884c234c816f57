"""An in-process DuckDB that can read the data root and nothing else, one connection per query.

Walls, in order (each from DuckDB's "Securing DuckDB" guide):
1. mcp_server.sql.guard: exactly one SELECT, by DuckDB's own parser.
2. allowed_directories = the roots of the readable views, then enable_external_access =
   false: no file outside them, no network, no extension install or load; extension
   auto-loading off; temp_directory '' so nothing spills to disk; lock_configuration =
   true so no statement can undo any of it. On an object store the root's filesystem is
   registered wrapped in mcp_server.sql.remote.ReadOnlyRoot: reads under the views' roots
   only, and no write reaches the bucket whatever DuckDB attempts.
3. A timer calls connection.interrupt(): the query stops inside DuckDB, not just the
   caller's wait; memory_limit bounds a huge join before the timer fires.
The connection is in memory and closed after the query: nothing persists between calls.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import re
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from mcp_server.sql.guard import check_select
from mcp_server.sql.views import StoredView, empty_table, macro_sql, view_sql
from shared.datafs import DataPath
from shared.queries.paths import QueryError, QueryTimeout
from shared.storage import Layout

MAX_CELL_CHARS = 1_000


@dataclass(frozen=True)
class SqlResult:
    columns: list[str]
    types: list[str]
    rows: list[list[Any]]
    truncated: bool
    elapsed_ms: float


@dataclass(frozen=True)
class Sandbox:
    views: dict[str, StoredView]
    layout: Layout
    memory_limit: str = "1GB"
    threads: int = 2

    @classmethod
    def for_access(cls, layout: Layout, allow_raw: bool, allow_clean: bool) -> Sandbox:
        from mcp_server.sql.views import stored_views

        readable = {
            name: v
            for name, v in stored_views(layout).items()
            if (v.raw and allow_raw) or (not v.raw and allow_clean)
        }
        return cls(readable, layout)

    def run(self, sql: str, max_rows: int, timeout_sec: float) -> SqlResult:
        text = check_select(sql)
        # Wrapped so the row cap is DuckDB's (a newline ends any trailing -- comment);
        # the wrapped text is checked again, so it is still exactly one SELECT.
        wrapped = check_select(f"SELECT * FROM (\n{text}\n) AS q LIMIT {int(max_rows) + 1}")
        start = time.perf_counter()
        con = duckdb.connect(":memory:", config={
            "threads": str(self.threads), "memory_limit": self.memory_limit,
            "temp_directory": "", "autoinstall_known_extensions": "false",
            "autoload_known_extensions": "false",
        })  # fmt: skip
        # The clock runs from here: creating the views globs the tree, which takes seconds
        # on a long history (about 2 s for 30,000 files).
        timer = threading.Timer(timeout_sec, con.interrupt)
        timer.daemon = True
        timer.start()
        try:
            self._lock_down(con, text)
        except BaseException as exc:
            timer.cancel()
            con.close()
            if isinstance(exc, duckdb.InterruptException):
                raise QueryTimeout(f"the query was stopped after {timeout_sec:g} s") from None
            if isinstance(exc, duckdb.Error):
                raise QueryError(self._message(exc)) from None
            raise
        try:
            relation = con.sql(wrapped)
            types = [str(t) for t in relation.types]
            table = relation.to_arrow_table()
        except duckdb.InterruptException:
            raise QueryTimeout(
                f"the query was stopped after {timeout_sec:g} s; filter on date/underlying or "
                "aggregate earlier"
            ) from None
        except duckdb.Error as exc:
            raise QueryError(self._message(exc)) from None
        finally:
            timer.cancel()
            con.close()
        # Arrow, not Python rows: DuckDB's own conversion of TIMESTAMPTZ needs pytz.
        cells = [table.column(i).to_pylist() for i in range(table.num_columns)]
        rows = [list(r) for r in zip(*cells, strict=True)] if cells else []
        return SqlResult(
            columns=table.column_names,
            types=types,
            rows=[[_json_value(v) for v in row] for row in rows[:max_rows]],
            truncated=len(rows) > max_rows,
            elapsed_ms=round((time.perf_counter() - start) * 1000, 1),
        )

    def _lock_down(self, con: duckdb.DuckDBPyConnection, text: str) -> None:
        """Only the data root, no external access, the views the statement names, then lock."""
        roots = sorted({_allowed(v.root) for v in self.views.values()})
        listed = ", ".join("'" + r.replace("'", "''") + "'" for r in roots)
        remote = [v.root for v in self.views.values() if not isinstance(v.root, Path)]
        if remote:
            from mcp_server.sql.remote import ReadOnlyRoot

            con.register_filesystem(ReadOnlyRoot(remote[0].fs, roots))
        con.execute(f"SET allowed_directories = [{listed}]")
        con.execute("SET enable_external_access = false")
        for view in self.views.values():
            if re.search(rf"\b{view.name}\b", text, re.IGNORECASE):
                self._create(con, view)
            macro = macro_sql(view)
            if macro is not None and re.search(rf"\b{view.name}_on\b", text, re.IGNORECASE):
                con.execute(macro)
        con.execute("SET lock_configuration = true")

    @staticmethod
    def _create(con: duckdb.DuckDBPyConnection, view: StoredView) -> None:
        def any_file(pattern: str | None) -> bool:
            if pattern is None:
                return False
            rows = con.execute("SELECT 1 FROM glob(?) LIMIT 1", [pattern]).fetchall()
            return bool(rows)

        body = view_sql(view, any_file(view.pattern), any_file(view.compacted))
        if body is None:
            temp = f"empty_{uuid.uuid4().hex}"
            con.register(temp, empty_table(view))
            body = f"SELECT * FROM {temp}"
        con.execute(f"CREATE VIEW {view.name} AS {body}")

    def _under_root(self, pattern: str) -> str:
        """A path DuckDB names, relative to the data directory (the server's path stays hidden)."""
        data = _allowed(self.layout.data)
        return _relative(pattern, [data]).removesuffix("/*.parquet")

    def _message(self, exc: duckdb.Error) -> str:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        missing = re.search(r"Table with name (\w+) does not exist", first)
        if missing:
            name = missing.group(1).lower()
            known = {"intraday", "close", "daily_clean", "history", "streaming"}
            if name in known and name not in self.views:
                return f"view {name} is not readable on this server (raw views need --allow-raw)"
            return f"no table {missing.group(1)}: the views are {', '.join(sorted(self.views))}"
        # Paths outside the root are named by DuckDB; say only that access was refused.
        if isinstance(exc, duckdb.PermissionException):
            return "permission denied: the SQL tool reads only the stored views of the data root"
        nothing = re.search(r'No files found that match the pattern "([^"]*)"', first)
        if (
            nothing
        ):  # e.g. a *_on macro over a date not stored: named under the root, not the server's path
            return (
                f"no stored file matches {self._under_root(nothing.group(1))}; list_sessions "
                "and list_underlyings say which dates and underlyings are stored"
            )
        return f"{type(exc).__name__.removesuffix('Exception')}: {first[:400]}"


def _relative(pattern: str, roots: list[str]) -> str:
    for root in roots:
        if pattern.startswith(root):
            return pattern[len(root) :]
    return "/".join(pattern.split("/")[-4:])  # outside every root: its tail only


def _allowed(root: DataPath) -> str:
    """A view root as allowed_directories names it: the real local path, or the URI."""
    return f"{root.resolve()}/" if isinstance(root, Path) else f"{str(root).rstrip('/')}/"


def _json_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value if not isinstance(value, str) else value[:MAX_CELL_CHARS]
    if isinstance(value, float):
        return round(value, 10) if math.isfinite(value) else None
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value[:100]]
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in list(value.items())[:100]}
    if isinstance(value, bytes | bytearray):
        return f"<{len(value)} bytes>"
    return str(value)[:MAX_CELL_CHARS]
