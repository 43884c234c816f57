"""The audit trail: one row per tool call, whatever its outcome, in the audit DB (aiosqlite).

AuditMiddleware wraps every `tools/call` request before the SDK validates it, so calls
with bad arguments or unknown tool names are recorded too. The tool layer adds what only
it knows (rejected or crashed, the traceback) to the CallRecord in a context variable.
"""

from __future__ import annotations

import contextvars
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite

from mcp_server.errors import MAX_DETAIL_CHARS, MAX_ERROR_CHARS, audit_arguments, one_line

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    ts          TEXT NOT NULL,
    tool        TEXT NOT NULL,
    arguments   TEXT NOT NULL,
    clamped     INTEGER NOT NULL DEFAULT 0,
    rows        INTEGER NOT NULL DEFAULT 0,
    bytes       INTEGER NOT NULL DEFAULT 0,
    duration_ms REAL NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('ok', 'clamped', 'rejected', 'error')),
    error       TEXT
);
CREATE INDEX IF NOT EXISTS calls_by_ts ON calls (ts);
"""


@dataclass
class CallRecord:
    """Filled in by the tool layer during one call."""

    tool: str = ""
    arguments: dict[str, Any] = field(default_factory=dict)  # as the client sent them
    status: str | None = None  # 'rejected' or 'error' when the tool layer decided so
    detail: str | None = None  # traceback of a crash (never sent to the client)
    statement: str | None = None  # run_sql: the whole SQL statement (capped by its guard)


CURRENT_CALL: contextvars.ContextVar[CallRecord | None] = contextvars.ContextVar(
    "current_call", default=None
)


class AuditLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: aiosqlite.Connection | None = None

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = await aiosqlite.connect(self.path)
        await self._db.execute("PRAGMA journal_mode=WAL")
        await self._db.executescript(SCHEMA)
        await self._db.commit()

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None

    async def record(
        self, tool: str, arguments: Any, *, clamped: bool, rows: int, nbytes: int,
        duration_ms: float, status: str, error: str | None, statement: str | None = None,
    ) -> None:  # fmt: skip
        if self._db is None:
            log.error("audit DB is not open; call of %s not recorded", tool)
            return
        args = audit_arguments(arguments)
        if statement is not None:  # every SQL statement is kept whole, beside the bounded rest
            args = json.dumps({"sql": statement, "arguments": json.loads(args)}, sort_keys=True)
        await self._db.execute(
            "INSERT INTO calls (ts, tool, arguments, clamped, rows, bytes, duration_ms, status, error) "
            "VALUES (?,?,?,?,?,?,?,?,?)",
            (datetime.now(UTC).isoformat(timespec="milliseconds"), tool, args, int(clamped), rows,
             nbytes, round(duration_ms, 3), status, error),
        )  # fmt: skip
        await self._db.commit()


def _field(obj: Any, name: str, alias: str) -> Any:
    if isinstance(obj, dict):
        return obj.get(alias, obj.get(name))
    return getattr(obj, name, None)


def _text_of(result: Any) -> str:
    parts = _field(result, "content", "content") or []
    return "".join(str(_field(p, "text", "text") or "") for p in parts)


class AuditMiddleware:
    """Server middleware: times each tools/call and writes its audit row."""

    def __init__(self, audit: AuditLog, on_initialized: Callable[[], None] | None = None) -> None:
        self.audit = audit
        self.on_initialized = on_initialized

    async def __call__(self, ctx: Any, call_next: Any) -> Any:
        if ctx.method == "initialize" and self.on_initialized is not None:
            result = await call_next(ctx)
            self.on_initialized()
            self.on_initialized = None
            return result
        if ctx.method != "tools/call" or ctx.request_id is None:
            return await call_next(ctx)
        params = dict(ctx.params or {})
        tool = str(params.get("name") or "?")[:100]
        arguments = params.get("arguments") or {}
        if not isinstance(arguments, dict):
            arguments = {"arguments": arguments}
        record = CallRecord(tool=tool, arguments=arguments)
        token = CURRENT_CALL.set(record)
        start = time.perf_counter()
        try:
            result = await call_next(ctx)
        except BaseException as exc:
            await self._write(
                tool,
                arguments,
                start,
                status="error",
                error=one_line(f"{type(exc).__name__}: {exc}"),
            )
            raise
        finally:
            CURRENT_CALL.reset(token)
        text = _text_of(result)
        structured = _field(result, "structured_content", "structuredContent") or {}
        meta = structured.get("meta", {}) if isinstance(structured, dict) else {}
        if _field(result, "is_error", "isError"):
            status = record.status or "rejected"
            error = one_line(text, MAX_ERROR_CHARS)
            if record.detail is not None:
                error = f"{error}\n{record.detail[-MAX_DETAIL_CHARS:]}"
            await self._write(
                tool, arguments, start, status=status, error=error, nbytes=len(text.encode()),
                statement=record.statement,
            )  # fmt: skip
        else:
            clamped = bool(meta.get("clamped"))
            await self._write(
                tool, arguments, start, status="clamped" if clamped else "ok", error=None,
                clamped=clamped, rows=int(meta.get("rows") or 0), nbytes=len(text.encode()),
                statement=record.statement,
            )  # fmt: skip
        return result

    async def _write(
        self, tool: str, arguments: Any, start: float, *, status: str, error: str | None,
        clamped: bool = False, rows: int = 0, nbytes: int = 0, statement: str | None = None,
    ) -> None:  # fmt: skip
        duration_ms = (time.perf_counter() - start) * 1000
        try:
            await self.audit.record(
                tool, arguments, clamped=clamped, rows=rows, nbytes=nbytes,
                duration_ms=duration_ms, status=status, error=error, statement=statement,
            )  # fmt: skip
        except Exception:  # the audit must never break a reply; the failure goes to stderr
            log.exception("could not write the audit row of %s", tool)
