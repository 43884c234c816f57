"""Task names: one set for the scheduler's plan, the ledger's `runs.task`, the CLI and logs.

A task is named as its command is (`close-snapshot`, not a second spelling), so a ledger
row, a run-log folder, an error-log line and the command that made them all agree.
"""

from __future__ import annotations

from enum import StrEnum


class Task(StrEnum):
    PRECHECK = "precheck"
    SNAPSHOT = "snapshot"
    CLOSE_SNAPSHOT = "close-snapshot"
    ROLLUP = "rollup"
    COMPACT = "compact"
    QA = "qa"
    ENRICHMENT = "enrichment"
    SELFCHECK = "selfcheck"
    LOGSCAN = "logscan"
    HISTORY = "history"
    STREAMING = "streaming"
    RETENTION = "retention"


# The tasks of one trading day, in the order they run.
DAY_TASKS = (
    Task.PRECHECK,
    Task.SNAPSHOT,
    Task.CLOSE_SNAPSHOT,
    Task.ROLLUP,
    Task.COMPACT,  # only with storage.daily_compaction_enabled
    Task.QA,
    Task.ENRICHMENT,
    Task.SELFCHECK,
    Task.LOGSCAN,
)
