"""Progress of a long job: a rich bar (done/total, rate, ETA) on a terminal, log lines otherwise."""

from __future__ import annotations

import os
import sys
import time
from datetime import UTC, datetime
from typing import Any

PROGRESS_ENV = "OPT_DATA_PROGRESS_SEC"


class Progress:
    def __init__(
        self,
        label: str,
        total: int,
        *,
        enabled: bool = True,
        every_sec: float | None = None,
        unit: str = "contracts",
    ) -> None:
        self.label = label
        self.total = total
        self.unit = unit
        self.done = 0
        self.enabled = enabled
        # OPT_DATA_PROGRESS_SEC: how often the log-line form reports; the console sets 1 s
        # for the jobs it starts so their progress shows live on its page.
        self.every_sec = (
            every_sec if every_sec is not None else float(os.environ.get(PROGRESS_ENV) or 10.0)
        )
        self._start = time.monotonic()
        self._last_log = self._start
        self._bar: Any = None
        self._task: Any = None
        if enabled and sys.stderr.isatty():
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                TextColumn,
                TimeRemainingColumn,
            )
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]:.1f}/s"),
                TimeRemainingColumn(),
                transient=False,
            )
            self._task = self._bar.add_task(label, total=total, rate=0.0)
            self._bar.start()

    def advance(self, n: int = 1) -> None:
        self.done += n
        if not self.enabled:
            return
        now = time.monotonic()
        rate = self.done / max(now - self._start, 1e-9)
        if self._bar is not None:
            self._bar.update(self._task, advance=n, rate=rate)
        elif now - self._last_log >= self.every_sec or self.done == self.total:
            self._last_log = now
            eta = (self.total - self.done) / rate if rate > 0 else float("inf")
            stamp = datetime.now(UTC).isoformat(timespec="seconds")
            print(
                f"{stamp} progress {self.label}: {self.done}/{self.total} {self.unit}, "
                f"{rate:.1f}/s, ETA {eta:.0f} s",
                file=sys.stderr,
                flush=True,
            )

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
