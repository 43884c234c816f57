"""`logscan`: count keyword lines in the day's error log and write errors/summary_YYYYMMDD.json.

A keyword matches as a whole word, case-insensitively ("PACING" matches "pacing violation",
not "spacing"). `total` counts lines matching at least one keyword, so a line reading
"ERROR ... PACING" is one incident, while `counts` has it under both keywords.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from shared.storage import Layout, atomic_write_json

MAX_SAMPLES = 20


@dataclass(frozen=True)
class LogscanResult:
    trade_date: date
    keywords: tuple[str, ...]
    files: list[str]
    counts: dict[str, int]
    total: int
    samples: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "trade_date": self.trade_date.isoformat(),
            "scanned_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "keywords": list(self.keywords),
            "files": self.files,
            "counts": self.counts,
            "total": self.total,
            "samples": self.samples,
        }


def parse_keywords(text: str) -> tuple[str, ...]:
    words = tuple(w.strip() for w in text.split(",") if w.strip())
    if not words:
        raise ValueError("--keywords needs at least one word, e.g. ERROR,CRITICAL,PACING")
    return words


def scan_lines(
    lines: list[str], keywords: tuple[str, ...]
) -> tuple[dict[str, int], int, list[str]]:
    """Pure: per-keyword line counts, lines matching any keyword, first few matching lines."""
    patterns = {
        k: re.compile(rf"(?<![A-Za-z0-9]){re.escape(k)}(?![A-Za-z0-9])", re.IGNORECASE)
        for k in keywords
    }
    counts = dict.fromkeys(keywords, 0)
    total = 0
    samples: list[str] = []
    for line in lines:
        hit = False
        for key, pattern in patterns.items():
            if pattern.search(line):
                counts[key] += 1
                hit = True
        if hit:
            total += 1
            if len(samples) < MAX_SAMPLES:
                samples.append(line.rstrip()[:300])
    return counts, total, samples


def scan_day(layout: Layout, trade_date: date, keywords: tuple[str, ...]) -> LogscanResult:
    path = layout.errors_log(trade_date)
    lines: list[str] = []
    files: list[str] = []
    if path.is_file():
        files.append(str(path))
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    counts, total, samples = scan_lines(lines, keywords)
    return LogscanResult(trade_date, keywords, files, counts, total, samples)


def write_summary(layout: Layout, result: LogscanResult, max_total: int) -> Path:
    path = layout.errors_summary(result.trade_date)
    payload = result.as_json()
    payload["max_total"] = max_total
    payload["status"] = "PASS" if result.total <= max_total else "FAIL"
    atomic_write_json(path, payload)
    return path
