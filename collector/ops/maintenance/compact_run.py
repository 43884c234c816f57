"""One compaction run, hand-run (`opt-data compact`) or scheduled: the ledger row, the proof.

Both ways go through `run_compaction`, so both leave a run row (ok, partial, failed) and, on
a failure, an errors-log line with the stack; both move corrupt files aside first and prove
that every row a reader saw before is still there after (the merge itself is
collector/ops/maintenance/compaction.py). A dry run changes nothing, the ledger included.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from collector.ops.maintenance.compaction import UnderlyingCompaction, count_rows
from collector.pipeline.run import JobResult, RunContext
from collector.pipeline.store import Quarantined, report_corrupt
from shared.config import AppConfig
from shared.storage import Layout
from shared.tasks import Task


@dataclass(frozen=True)
class CompactRun:
    result: JobResult
    items: list[UnderlyingCompaction] = field(default_factory=list)
    before: int = 0
    after: int = 0
    corrupt: list[Quarantined] = field(default_factory=list)

    @property
    def replaced(self) -> int:
        """Exact duplicates plus compacted rows superseded by a slot collected again after
        the day was compacted (normal: the newer file wins)."""
        return sum(i.rows_in - i.rows_out for i in self.items)


def run_compaction(
    cfg: AppConfig,
    days: list[date],
    merge: Callable[[], list[UnderlyingCompaction]],
    dry_run: bool = False,
) -> CompactRun:
    """Quarantine corrupt files, merge, and prove the row count; the run row is dated by
    the first day (the Monday of a week)."""
    layout = Layout.from_config(cfg)
    ctx = None if dry_run else RunContext(cfg, Task.COMPACT, days[0])
    run_id = ctx.run_id if ctx else None
    try:
        corrupt: list[Quarantined] = []
        # one footer pass: the rows before, and corrupt files moved aside (not in a dry run)
        before = count_rows(layout, "intraday", days, None if dry_run else corrupt)
        for q in corrupt:
            report_corrupt(layout, Task.COMPACT, q.path_date(), [q], run_id=run_id)
        items = merge()
        after = count_rows(layout, "intraday", days)
    except Exception as exc:  # a read-only folder, a full disk: a failed row, the stack logged
        if ctx is None:
            raise
        return CompactRun(ctx.crashed(exc))
    out = CompactRun(JobResult(Task.COMPACT, "ok"), items, before, after, corrupt)
    files = sum(i.files_in for i in items)
    message = f"{files} slot files into {len(items)} files, rows {before} -> {after}"
    status = "ok"
    if not dry_run and after != before - out.replaced:
        status = "failed"
        message = f"row count changed unexpectedly ({before} -> {after}, {out.replaced} replaced)"
    elif corrupt:
        status = "partial"
        message += f"; {len(corrupt)} corrupt file(s) moved aside: re-collect those slots"
    result = JobResult(Task.COMPACT, status, rows=after, total=len(items),
                       succeeded=len(items), message=message,
                       details={"corrupt_files": [q.line() for q in corrupt]})  # fmt: skip
    if ctx is not None:
        result = ctx.finish(result)
    return CompactRun(result, items, before, after, corrupt)
