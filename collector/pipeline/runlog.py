"""Run logs (`run_logs/<task>/<task>_YYYYMMDD.jsonl`) and the error log for unhandled exceptions."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from collector.errorlog import append_error, format_error
from shared.calendar import today_et
from shared.storage import Layout, append_jsonl


class RunLog:
    """One JSON line per event of a task run; the run id ties the lines to the ledger row."""

    def __init__(self, layout: Layout, task: str, run_id: str, trade_date: date | None) -> None:
        self.task = task
        self.run_id = run_id
        day = trade_date or today_et()
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


def log_unhandled(
    layout: Layout,
    task: str,
    ingest_id: str | None,
    exc: BaseException,
    trade_date: date | None = None,
    slot: str | None = None,
) -> None:
    """Append timestamp, task, ingest_id and the stack to errors/errors_YYYYMMDD.log.

    The file is the trade date's (so a 04:30 enrichment failure lands beside its day and
    logscan of that day counts it); without a trade date, today's ET date.
    """
    day = trade_date or today_et()
    message = f"ingest_id={ingest_id or '-'} {type(exc).__name__}: {exc}"
    append_error(layout, day, format_error(task, day, message, slot=slot, exc=exc))
