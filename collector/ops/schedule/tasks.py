"""The scheduler's executor: one planned task -> the pipeline job or ops check that does it.

Pipeline jobs (collector.pipeline.jobs) keep their own ledger runs; the ops checks (qa,
selfcheck, logscan) are recorded here so the MCP server sees every scheduled task.
"""

from __future__ import annotations

import asyncio

from collector.errorlog import append_error, format_error
from collector.ops.alerts import Event, alert_job, notify
from collector.ops.checks.logscan import scan_day, write_summary
from collector.ops.checks.selfcheck import compute_metrics, run_selfcheck, write_metrics
from collector.ops.schedule import plan as p
from collector.ops.schedule.runner import TaskOutcome
from collector.pipeline.jobs.close import run_close_snapshot
from collector.pipeline.jobs.enrichment import run_enrichment
from collector.pipeline.jobs.precheck import precheck_contract_cache
from collector.pipeline.jobs.rollup import run_rollup
from collector.pipeline.jobs.snapshot import run_snapshot
from collector.pipeline.run import JobResult, problem_level
from collector.pipeline.snapshot_plan import discovery_problems
from shared.config import AppConfig
from shared.ledger import Ledger
from shared.storage import Layout
from shared.tasks import Task


def _from_job(cfg: AppConfig, item: p.PlannedTask, result: JobResult) -> TaskOutcome:
    """A pipeline JobResult (status ok/partial/failed) as a TaskOutcome, alerted as the CLI
    would (slot_retry_exceeded, discovery failures, delayed fallback, failures).

    A partial below qa.slot_coverage_min or with slot_retry_exceeded counts as failed.
    """
    message = result.message or (f"{result.succeeded}/{result.total} ok" if result.total else "")
    where = " ".join(x for x in (item.task, str(item.trade_date), item.slot or "") if x)
    alert_job(cfg, result, where)
    status = "failed" if problem_level(cfg, result) == "ERROR" else result.status
    return TaskOutcome(item, status, message, result.rows, result.run_id, logged=True)


class TaskExecutor:
    """Callable executor bound to a config; `progress` is forwarded to snapshot jobs."""

    def __init__(
        self, cfg: AppConfig, *, progress: bool = False, log_max_total: int | None = None
    ) -> None:
        self.cfg = cfg
        self.layout = Layout.from_config(cfg)
        self.progress = progress
        self.log_max_total = log_max_total

    async def __call__(self, item: p.PlannedTask) -> TaskOutcome:
        handlers = {
            Task.PRECHECK: self._run_precheck,
            Task.SNAPSHOT: self._run_snapshot,
            Task.CLOSE_SNAPSHOT: self._run_close_snapshot,
            Task.ROLLUP: self._run_rollup,
            Task.COMPACT: self._run_compact,
            Task.ENRICHMENT: self._run_enrichment,
            Task.QA: self._run_qa,
            Task.SELFCHECK: self._run_selfcheck,
            Task.LOGSCAN: self._run_logscan,
        }
        return await handlers[Task(item.task)](item)

    # --- pipeline ----------------------------------------------------------------------
    async def _run_precheck(self, item: p.PlannedTask) -> TaskOutcome:
        """Raises (-> failed, day aborted) when a cache is missing and cannot be rebuilt."""
        statuses = await precheck_contract_cache(
            self.cfg, item.trade_date, _symbols_arg(item), rebuild=item.args.get("rebuild", True)
        )
        problems = discovery_problems(statuses)
        rebuilt = sorted(s for s, state in statuses.items() if state != "ok" and s not in problems)
        message = f"{len(statuses) - len(problems)} contract caches ok" + (
            f", rebuilt: {', '.join(rebuilt)}" if rebuilt else ""
        )
        if not problems:
            return TaskOutcome(item, "ok", message)
        # the day goes on for the symbols that work; the failing ones are reported loudly
        lines = "; ".join(f"{sym} {why}" for sym, why in sorted(problems.items()))
        where = f"{item.task} {item.trade_date}"
        notify(self.cfg, Event.DISCOVERY_FAILED, where, f"{where}: discovery failed: {lines}")
        append_error(
            self.layout,
            item.trade_date,
            format_error(item.task, item.trade_date, f"discovery failed: {lines}"),
        )
        return TaskOutcome(item, "partial", f"{message}; discovery failed: {lines}", logged=True)

    async def _run_snapshot(self, item: p.PlannedTask) -> TaskOutcome:
        assert item.slot is not None
        result = await run_snapshot(
            self.cfg,
            item.trade_date,
            item.slot,
            _symbols_arg(item),
            view="intraday",
            progress=self.progress,
        )
        return _from_job(self.cfg, item, result)

    async def _run_close_snapshot(self, item: p.PlannedTask) -> TaskOutcome:
        result = await run_close_snapshot(
            self.cfg,
            item.trade_date,
            _symbols_arg(item),
            fail_on_missing_cache=bool(item.args.get("fail_on_missing_cache", False)),
        )
        return _from_job(self.cfg, item, result)

    async def _run_rollup(self, item: p.PlannedTask) -> TaskOutcome:
        return _from_job(
            self.cfg, item, await asyncio.to_thread(run_rollup, self.cfg, item.trade_date)
        )

    async def _run_compact(self, item: p.PlannedTask) -> TaskOutcome:
        """The day's slot files into one file per underlying (every row kept, counted), as
        `opt-data compact --day` does it (collector/ops/maintenance/compact_run.py)."""
        from collector.ops.maintenance.compact_run import run_compaction
        from collector.ops.maintenance.compaction import compact_day

        day, level = item.trade_date, self.cfg.storage.compression_level
        done = await asyncio.to_thread(
            run_compaction, self.cfg, [day], lambda: compact_day(self.layout, day, level)
        )
        return _from_job(self.cfg, item, done.result)

    async def _run_enrichment(self, item: p.PlannedTask) -> TaskOutcome:
        fields = tuple(item.args.get("fields") or self.cfg.enrichment.fields)
        return _from_job(
            self.cfg,
            item,
            await run_enrichment(self.cfg, item.trade_date, fields=fields, progress=self.progress),
        )

    # --- ops checks --------------------------------------------------------------------
    async def _run_qa(self, item: p.PlannedTask) -> TaskOutcome:
        ledger = Ledger(self.layout.ledger)
        run_id = ledger.start_run(Task.QA, item.trade_date)
        metrics = compute_metrics(self.cfg, item.trade_date, _symbols_arg(item))
        path = write_metrics(self.cfg, metrics)
        ledger.finish_run(run_id, "ok", details={"metrics_file": str(path)})
        cov = metrics.coverage.ratio
        return TaskOutcome(
            item,
            "ok",
            f"coverage {cov:.0%} -> {path}" if cov is not None else str(path),
            run_id=run_id,
        )

    async def _run_selfcheck(self, item: p.PlannedTask) -> TaskOutcome:
        ledger = Ledger(self.layout.ledger)
        run_id = ledger.start_run(Task.SELFCHECK, item.trade_date)
        report, path = run_selfcheck(
            self.cfg, item.trade_date, log_max_total=self.log_max_total, symbols=_symbols_arg(item)
        )
        status = "failed" if report.status == "FAIL" else "ok"
        breaches = "; ".join(c.line() for c in report.breaches)
        ledger.finish_run(
            run_id,
            status,
            total=len(report.checks),
            failed=len(report.breaches),
            error_summary=breaches or None,
            details={"report": str(path)},
        )
        return TaskOutcome(
            item, status, f"{report.status}" + (f": {breaches}" if breaches else ""), run_id=run_id
        )

    async def _run_logscan(self, item: p.PlannedTask) -> TaskOutcome:
        ledger = Ledger(self.layout.ledger)
        run_id = ledger.start_run(Task.LOGSCAN, item.trade_date, item.slot)
        result = scan_day(self.layout, item.trade_date, self.cfg.logscan.keywords)
        path = write_summary(self.layout, result, self.cfg.logscan.max_total)
        over = result.total > self.cfg.logscan.max_total
        status = "failed" if over else "ok"
        msg = f"{result.total} matching lines (max {self.cfg.logscan.max_total}) -> {path}"
        ledger.finish_run(run_id, status, total=result.total, error_summary=msg if over else None)
        return TaskOutcome(item, status, msg, run_id=run_id)


def _symbols_arg(item: p.PlannedTask) -> list[str] | None:
    syms = item.args.get("symbols")
    return list(syms) if syms else None
