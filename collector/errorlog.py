"""Append scheduler and CLI failures to errors/errors_YYYYMMDD.log (what logscan reads).

One record per failure: a header line `<utc time> ERROR task=... trade_date=... slot=...
run_id=...: message`, then the traceback lines indented, so a keyword scan counts the
failure once and a human still sees the stack.
"""

from __future__ import annotations

import os
import traceback
from datetime import UTC, date, datetime

from shared.storage import Layout


def format_error(
    task: str,
    trade_date: date,
    message: str,
    *,
    slot: str | None = None,
    run_id: str | None = None,
    ingest_id: str | None = None,
    level: str = "ERROR",
    exc: BaseException | None = None,
    now: datetime | None = None,
) -> str:
    stamp = (now or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")
    fields = [f"task={task}", f"trade_date={trade_date.isoformat()}"]
    if slot:
        fields.append(f"slot={slot}")
    if run_id:
        fields.append(f"run_id={run_id}")
    if ingest_id:
        fields.append(f"ingest_id={ingest_id}")
    one_line = " ".join(message.split())
    text = f"{stamp} {level} {' '.join(fields)}: {one_line}\n"
    if exc is not None:
        stack = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        text += "".join(f"    {line}\n" for line in stack.rstrip().splitlines())
    return text


def append_error(layout: Layout, trade_date: date, text: str) -> None:
    path = layout.errors_log(trade_date)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, text.encode("utf-8"))
    finally:
        os.close(fd)
