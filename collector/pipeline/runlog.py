"""Run logs (`run_logs/<task>/<task>_YYYYMMDD.jsonl`) and the error log for unhandled exceptions."""

from __future__ import annotations

import traceback
from datetime import UTC, date, datetime
from typing import Any

from shared.storage import Layout, append_jsonl


class RunLog:
    """One JSON line per event of a task run; the run id ties the lines to the ledger row."""

    def __init__(self, layout: Layout, task: str, run_id: str, trade_date: date | None) -> None:
        self.task = task
        self.run_id = run_id
        day = trade_date or datetime.now(UTC).date()
        self.path = layout.task_log_dir(task) / f"{task}_{day:%Y%m%d}.jsonl"

    def event(self, event: str, **fields: Any) -> None:
        record = {
            "ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "task": self.task,
            "run_id": self.run_id,
            "event": event,
        }
        record.update(fields)
        append_jsonl(self.path, record)


def log_unhandled(layout: Layout, task: str, ingest_id: str | None, exc: BaseException) -> None:
    """Append timestamp, task, ingest_id and the stack to errors/errors_YYYYMMDD.log."""
    now = datetime.now(UTC)
    path = layout.errors_log(now.date())
    path.parent.mkdir(parents=True, exist_ok=True)
    stack = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    text = (
        f"{now.isoformat(timespec='seconds')} ERROR task={task} ingest_id={ingest_id or '-'} "
        f"{type(exc).__name__}: {exc}\n{stack}\n"
    )
    with path.open("a", encoding="utf-8") as fh:
        fh.write(text)
