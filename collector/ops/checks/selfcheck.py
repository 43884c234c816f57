"""`qa` and `selfcheck`: compute the day's metrics, judge them against the runbook thresholds,
write metrics/metrics_YYYYMMDD.json and selfcheck/selfcheck_YYYYMMDD.json, clean stale *.tmp.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from collector.ops.checks.dataset import intraday_summary, read_view, scheduled_symbols
from collector.ops.checks.logscan import LogscanResult, scan_day
from collector.ops.checks.qa import DayMetrics, day_metrics
from collector.pipeline.store import report_corrupt
from shared.calendar import get_session, now_et, slot_datetime
from shared.config import AppConfig, QAConfig
from shared.datafs import DataPath
from shared.due import enrichment_due, intraday_due
from shared.ledger import LedgerReader
from shared.queries.shards import streaming_coverage
from shared.storage import STREAMING_VIEW, Layout, atomic_write_json, leftover_tmp_files
from shared.tasks import Task
from shared.universe import shard_count

TMP_MIN_AGE_SEC = 15 * 60  # younger temp files may belong to a writer that is still running


@dataclass(frozen=True)
class Check:
    name: str
    value: float | int | None
    op: str  # ">=", "<=", "<"
    threshold: float | int
    passed: bool
    note: str = ""

    def line(self) -> str:
        shown = (
            "n/a"
            if self.value is None
            else (f"{self.value:.2%}" if isinstance(self.value, float) else str(self.value))
        )
        limit = (
            f"{self.threshold:.0%}" if isinstance(self.threshold, float) else str(self.threshold)
        )
        verdict = "ok" if self.passed else "BREACH"
        note = f" - {self.note}" if self.note else ""
        return f"{self.name}: {shown} (needs {self.op} {limit}) {verdict}{note}"


@dataclass
class SelfcheckReport:
    trade_date: date
    checks: list[Check]
    metrics: DayMetrics
    logscan: LogscanResult | None
    tmp_removed: list[str] = field(default_factory=list)
    tmp_skipped: list[str] = field(default_factory=list)

    @property
    def breaches(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    @property
    def due(self) -> bool:
        """False before the session's first slot (plus grace) has come: nothing to judge yet."""
        return bool(self.metrics.slots_due)

    @property
    def status(self) -> str:
        if not self.due:
            return "NOT_DUE"
        return "FAIL" if self.breaches else "PASS"

    def as_json(self) -> dict[str, Any]:
        return {
            "trade_date": self.trade_date.isoformat(),
            "status": self.status,
            "checked_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "checks": [c.__dict__ for c in self.checks],
            "breaches": [c.line() for c in self.breaches],
            "metrics": self.metrics.as_json(),
            "logscan": self.logscan.as_json() if self.logscan else None,
            "tmp_removed": self.tmp_removed,
            "tmp_skipped_in_use": self.tmp_skipped,
        }


def _check(
    name: str, value: float | int | None, op: str, threshold: float | int, note: str = ""
) -> Check:
    if value is None:
        return Check(name, None, op, threshold, False, note or "nothing to measure")
    passed = {">=": value >= threshold, "<=": value <= threshold, "<": value < threshold}[op]
    return Check(name, value, op, threshold, passed, note)


def judge(
    metrics: DayMetrics, qa: QAConfig, logscan: LogscanResult | None, log_max_total: int | None
) -> list[Check]:
    """The runbook's gates: coverage >= 90%, fallback <= 5%, OI fill >= 95%, delayed < 10%."""
    checks = [
        _check("slot_coverage", metrics.coverage.ratio, ">=", qa.slot_coverage_min),
        _check(
            "rollup_fallback_ratio", metrics.rollup_fallback.ratio, "<=", qa.rollup_fallback_max
        ),
    ]
    if metrics.oi_due:
        checks.append(_check("oi_fill_rate", metrics.oi_fill.ratio, ">=", qa.oi_fill_min))
    checks.append(_check("delayed_ratio", metrics.delayed.ratio, "<", qa.delayed_ratio_max))
    if logscan is not None and log_max_total is not None:
        checks.append(
            _check("log_matches", logscan.total, "<=", log_max_total, ",".join(logscan.keywords))
        )
    findings = (
        ("missing_shards", metrics.missing_shards,
         "no data from shard " + ", ".join(metrics.missing_shards)),
        ("missing_streaming_shards", metrics.missing_streaming_shards,
         "no streaming from shard " + ", ".join(metrics.missing_streaming_shards)),
        ("corrupt_files", metrics.corrupt_files,
         "; ".join(metrics.corrupt_files) + " - re-collect the slot"),
        ("missed_runs", metrics.missed_runs, _missed_note(metrics)),
    )  # fmt: skip
    # each a list of things that should not exist: any one of them fails the day
    checks += [
        Check(name, len(items), "<=", 0, False, note) for name, items, note in findings if items
    ]
    return checks


def _missed_note(metrics: DayMetrics) -> str:
    return ", ".join(
        f"{r['task']}@{r['slot']}" if r.get("slot") else str(r["task"]) for r in metrics.missed_runs
    )


def compute_metrics(
    cfg: AppConfig, trade_date: date, symbols: list[str] | None = None, now: datetime | None = None
) -> DayMetrics:
    """Load the day's intraday and daily_clean rows plus its ledger runs, then measure.

    A date without a session has nothing to measure: ValueError, rather than a report of
    n/a metrics that reads like a day whose collection failed."""
    clock = now_et(now)
    layout = Layout.from_config(cfg)
    session = get_session(trade_date)
    if session is None:
        raise ValueError(f"{trade_date} is not an XNYS session: nothing to check")
    due = intraday_due(cfg, session, clock)
    # a corrupt file is a finding: moved aside (one error-log line each), then measured without
    intraday, corrupt = intraday_summary(layout, trade_date)
    daily, corrupt_daily = read_view(
        layout, "daily_clean", trade_date, ["expiry", "rollup_strategy", "open_interest"]
    )
    corrupt += corrupt_daily
    report_corrupt(layout, Task.QA, trade_date, corrupt)
    ledger = LedgerReader(layout.ledger)
    runs = ledger.runs_for_dates([trade_date])
    shards = shard_count(cfg.shard.count, sorted({str(r.get("shard") or "") for r in runs}))
    syms = scheduled_symbols(cfg, trade_date, symbols, every_shard=shards > 1)
    oi_due = enrichment_due(cfg, trade_date, clock) or any(
        r["task"] == Task.ENRICHMENT and r["status"] in ("ok", "partial") for r in runs
    )
    metrics = day_metrics(
        trade_date, syms, due, intraday, daily, runs, oi_due=oi_due, shard_count=shards
    )
    return replace(
        metrics,
        corrupt_files=[q.line() for q in corrupt],
        streaming=_streaming(cfg, ledger, trade_date, shards, clock),
    )


def _streaming(
    cfg: AppConfig, ledger: LedgerReader, trade_date: date, shards: int, clock: datetime
) -> dict[str, Any] | None:
    """The day's streaming coverage from the ledger, by the rule health uses."""
    if not cfg.streaming.underlyings:
        return None
    due = clock >= slot_datetime(trade_date, cfg.streaming.start_time)
    rows = ledger.partitions_for_date(trade_date, STREAMING_VIEW)
    return streaming_coverage(shards, cfg.streaming.underlyings, due, rows)


def write_metrics(cfg: AppConfig, metrics: DayMetrics) -> Path:
    path = Layout.from_config(cfg).metrics_file(metrics.trade_date)
    atomic_write_json(path, metrics.as_json())
    return path


def tmp_dirs_for_date(layout: Layout, trade_date: date) -> list[DataPath]:
    dirs = [layout.date_dir(v, trade_date) for v in ("intraday", "close", "daily_clean")]
    dirs.append(layout.raw / "ib" / "streaming" / f"date={trade_date.isoformat()}")
    return dirs


def clean_tmp(
    layout: Layout, trade_date: date, now: float | None = None
) -> tuple[list[str], list[str]]:
    """Remove the date's leftover *.tmp files older than TMP_MIN_AGE_SEC; report both lists."""
    removed: list[str] = []
    skipped: list[str] = []
    clock = time.time() if now is None else now
    for directory in tmp_dirs_for_date(layout, trade_date):
        for tmp in leftover_tmp_files(directory):
            try:
                age = clock - tmp.stat().st_mtime
            except FileNotFoundError:
                continue
            if age < TMP_MIN_AGE_SEC:
                skipped.append(str(tmp))
                continue
            tmp.unlink(missing_ok=True)
            removed.append(str(tmp))
    return removed, skipped


def run_selfcheck(
    cfg: AppConfig,
    trade_date: date,
    *,
    log_max_total: int | None = None,
    symbols: list[str] | None = None,
    now: datetime | None = None,
) -> tuple[SelfcheckReport, Path | None]:
    """Judge the day and write selfcheck_YYYYMMDD.json; None for the path when nothing is due.

    Before the first slot of the session is due (06:00 ET, say) there is nothing to judge:
    no verdict is written, so the latest real verdict stays the one health shows.
    """
    layout = Layout.from_config(cfg)
    metrics = compute_metrics(cfg, trade_date, symbols, now)  # ValueError on a non-session
    removed, skipped = clean_tmp(layout, trade_date)
    if not metrics.slots_due:
        return SelfcheckReport(trade_date, [], metrics, None, removed, skipped), None
    write_metrics(cfg, metrics)
    scan = scan_day(layout, trade_date, cfg.logscan.keywords)
    report = SelfcheckReport(
        trade_date, judge(metrics, cfg.qa, scan, log_max_total), metrics, scan, removed, skipped
    )
    path = layout.selfcheck_dir() / f"selfcheck_{trade_date:%Y%m%d}.json"
    atomic_write_json(path, report.as_json())
    return report, path
