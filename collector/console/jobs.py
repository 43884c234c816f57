"""Operations: collector jobs started from the console, each as the collector's own CLI.

A job is `python -m collector.cli.main <command> --config FILE ...` in a subprocess, so it
takes the same locks, writes the same ledger rows and run logs as a run from the shell or
the scheduler. The console never awaits a job in a request: it starts the process and
returns; a follower task keeps the last lines and the progress for the page to poll.

The job's output goes to a file (run_logs/console/), not a pipe: a job must outlive the
console that started it, and a child writing into the pipe of a console that has gone
would die of a broken pipe in the middle of a slot.

Client ids come from the console's pool (console.client_id_pool, the runbook's 200-250):
each job gets the lowest id no other running console job holds, as IB_CLIENT_ID.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import subprocess
import sys
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from collector.console.heartbeat import describe, holders
from collector.pipeline.progress import PROGRESS_ENV
from collector.pipeline.run import slot_lock_name
from shared.calendar import parse_slot, parse_trade_date, slot_label
from shared.config import CLIENT_ID_POOLS, AppConfig
from shared.due import too_early_on
from shared.storage import Layout, check_symbol
from shared.tasks import Task

# Operation name -> the CLI command it runs and whether it names a slot.
OPERATIONS: dict[str, tuple[str, bool]] = {
    "snapshot": (Task.SNAPSHOT, True),
    "close-snapshot": (Task.CLOSE_SNAPSHOT, False),
    "rollup": (Task.ROLLUP, False),
    "enrichment": (Task.ENRICHMENT, False),
    "retry-missed": (Task.SNAPSHOT, True),
    "replay-missed": (Task.SNAPSHOT, False),
}
PROGRESS_RE = re.compile(r"progress (?P<label>.+?): (?P<done>\d+)/(?P<total>\d+) contracts, "
                         r"(?P<rate>[\d.]+)/s, ETA (?P<eta>\S+) s")  # fmt: skip
KEEP_LINES = 200
FOLLOW_SEC = 0.25  # how often a job's output file is read while it runs


class JobRefused(ValueError):
    """The job was not started; the message is one line for the page."""


@dataclass(frozen=True)
class JobSpec:
    operation: str
    trade_date: date
    slot: str | None = None
    symbols: tuple[str, ...] = ()

    @classmethod
    def parse(cls, form: dict[str, Any]) -> JobSpec:
        op = str(form.get("operation") or "")
        if op not in OPERATIONS:
            raise JobRefused(f"unknown operation {op!r}: expected one of {', '.join(OPERATIONS)}")
        try:
            day = parse_trade_date(str(form.get("date") or "today"))
            raw_slot = str(form.get("slot") or "").strip()
            slot = slot_label(parse_slot(raw_slot)) if raw_slot else None
            text = str(form.get("symbols") or "")
            symbols = tuple(
                dict.fromkeys(check_symbol(s.strip()) for s in text.split(",") if s.strip())
            )
        except ValueError as exc:
            raise JobRefused(str(exc)) from None
        if op in ("snapshot", "retry-missed") and slot is None:
            raise JobRefused(f"{op} needs a slot (HH:MM)")
        return cls(op, day, slot if OPERATIONS[op][1] or op == "replay-missed" else None, symbols)

    @property
    def task(self) -> str:
        return OPERATIONS[self.operation][0]

    def argv(self, config: Path) -> list[str]:
        args = [sys.executable, "-m", "collector.cli.main", self.task, "--config", str(config),
                "--date", self.trade_date.isoformat()]  # fmt: skip
        if self.slot and self.task == Task.SNAPSHOT:
            args += ["--slot", self.slot]
        if self.symbols and self.task in (Task.SNAPSHOT, Task.CLOSE_SNAPSHOT):
            args += ["--symbols", ",".join(self.symbols)]
        if self.operation == "retry-missed":
            args.append("--retry-missed")
        elif self.operation == "replay-missed":
            args.append("--replay-missed")
        else:
            args.append("--json")
        return args

    def lock_prefix(self) -> str | None:
        """Lock names a run of this spec would take (None: the job takes no slot lock)."""
        if self.task not in (Task.SNAPSHOT, Task.CLOSE_SNAPSHOT):
            return None
        if self.slot and self.operation != "replay-missed":
            return slot_lock_name(self.task, self.trade_date, self.slot)
        return f"{self.task}_{self.trade_date.isoformat()}_"

    def too_early(self, cfg: AppConfig) -> str | None:
        """shared.due.too_early_on's answer for this job (None for a replay of missed slots,
        which picks only slots already due)."""
        if self.operation == "replay-missed":
            return None
        return too_early_on(cfg, self.task, self.trade_date, self.slot)

    def key(self) -> tuple[str, str, str]:
        return (self.task, self.trade_date.isoformat(), self.slot or "*")


@dataclass
class Job:
    id: int
    spec: JobSpec
    client_id: int
    argv: list[str]
    started_at: str
    status: str = "running"  # running, ok, partial, failed
    exit_code: int | None = None
    run_id: str | None = None
    message: str = ""
    progress: dict[str, Any] = field(default_factory=dict)
    lines: deque[str] = field(default_factory=lambda: deque(maxlen=KEEP_LINES))
    finished_at: str | None = None
    output: Path | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "operation": self.spec.operation, "date": self.spec.trade_date.isoformat(),
            "slot": self.spec.slot, "symbols": list(self.spec.symbols), "client_id": self.client_id,
            "status": self.status, "exit_code": self.exit_code, "run_id": self.run_id,
            "message": self.message, "progress": self.progress, "started_at": self.started_at,
            "finished_at": self.finished_at, "lines": list(self.lines)[-30:],
            "command": " ".join(self.argv[2:]), "output": str(self.output) if self.output else None,
        }  # fmt: skip


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class JobManager:
    def __init__(self, cfg: AppConfig) -> None:
        if cfg.source_file is None:
            raise ValueError("the console needs a config loaded from a file")
        self.cfg = cfg
        self.config_file = cfg.source_file
        layout = Layout.from_config(cfg)
        self.locks = layout.run_locks()
        self.out_dir = layout.task_log_dir("console")
        self.pool = CLIENT_ID_POOLS[cfg.console.client_id_pool]
        self.jobs: dict[int, Job] = {}
        self._ids = itertools.count(1)
        self._tasks: set[asyncio.Task[None]] = set()
        self._procs: dict[int, subprocess.Popen[bytes]] = {}

    def running(self) -> list[Job]:
        return [j for j in self.jobs.values() if j.status == "running"]

    def _client_id(self) -> int:
        taken = {j.client_id for j in self.running()}
        for cid in range(self.pool[0], self.pool[1] + 1):
            if cid not in taken:
                return cid
        raise JobRefused(f"every console client id ({self.pool[0]}-{self.pool[1]}) is in use")

    def check(self, spec: JobSpec) -> None:
        """Refuse a job whose data cannot exist yet (the command would refuse it: say so
        here, not in a failed job), whose slot is locked (by anyone) or already running
        from here."""
        why = spec.too_early(self.cfg)
        if why:
            raise JobRefused(why)
        for job in self.running():
            if job.spec.key() == spec.key() or (job.spec.task == spec.task and "*" in (
                    job.spec.key()[2], spec.key()[2]) and job.spec.trade_date == spec.trade_date):  # fmt: skip
                raise JobRefused(f"job {job.id} ({job.spec.operation} {job.spec.trade_date} "
                                 f"{job.spec.slot or ''}) is still running from this console")  # fmt: skip
        prefix = spec.lock_prefix()
        if prefix is None:
            return
        held = holders(self.locks, prefix)
        if held:
            raise JobRefused("lock exists: " + describe(*held[0]))

    async def start(self, spec: JobSpec) -> Job:
        self.check(spec)
        job = Job(next(self._ids), spec, self._client_id(), spec.argv(self.config_file), _now())
        env = dict(os.environ)
        env["IB_CLIENT_ID"] = str(job.client_id)
        env[PROGRESS_ENV] = "1"
        env["PYTHONUNBUFFERED"] = "1"
        self.out_dir.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        job.output = self.out_dir / f"job_{stamp}_{job.id}_{spec.operation}.log"
        with job.output.open("wb") as out:  # the child keeps its own descriptor
            proc = subprocess.Popen(job.argv, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, env=env, start_new_session=True)  # fmt: skip
        self._procs[job.id] = proc
        self.jobs[job.id] = job
        task = asyncio.create_task(self._follow(job, proc))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job

    async def _follow(self, job: Job, proc: subprocess.Popen[bytes]) -> None:
        """Tail the output file until the process has exited and everything is read."""
        assert job.output is not None
        pending = b""
        with job.output.open("rb") as fh:
            while True:
                chunk = fh.read()
                if chunk:
                    *lines, pending = (pending + chunk).split(b"\n")
                    for raw in lines:
                        self._line(job, raw)
                elif proc.poll() is not None:
                    break
                else:
                    await asyncio.sleep(FOLLOW_SEC)
        self._line(job, pending)
        job.exit_code = proc.returncode
        job.finished_at = _now()
        if job.status == "running":  # no JSON result line (replay, or an error before it)
            job.status = "ok" if job.exit_code == 0 else "failed"
            if not job.message and job.lines:
                job.message = job.lines[-1]

    @classmethod
    def _line(cls, job: Job, raw: bytes) -> None:
        line = raw.decode("utf-8", "replace").rstrip()
        if line:
            cls._take(job, line)

    @staticmethod
    def _take(job: Job, line: str) -> None:
        job.lines.append(line)
        m = PROGRESS_RE.search(line)
        if m:
            job.progress = {"done": int(m["done"]), "total": int(m["total"]), "rate": float(m["rate"]),
                            "eta_s": m["eta"]}  # fmt: skip
            return
        if line.startswith("{"):
            try:
                result = json.loads(line)
            except ValueError:
                return
            if isinstance(result, dict) and "status" in result:
                job.status = str(result["status"])
                job.run_id = result.get("run_id")
                job.message = str(result.get("message") or "")

    def listing(self) -> list[dict[str, Any]]:
        return [j.as_dict() for j in sorted(self.jobs.values(), key=lambda j: -j.id)]

    async def close(self) -> None:
        """Jobs keep running after the console stops (they are the collector's own runs,
        writing to their output file and the ledger); only the followers end. A thread per
        running job waits for it, so it is reaped (no zombie) whenever it finishes."""
        for task in list(self._tasks):
            task.cancel()
        for job_id, proc in self._procs.items():
            if proc.poll() is None:
                threading.Thread(target=proc.wait, name=f"job-{job_id}", daemon=True).start()
