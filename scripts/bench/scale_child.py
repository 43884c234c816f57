"""One timed task of scripts/bench/scale_bench.py in a fresh interpreter.

Only the standard library is imported before the clock starts, so the task's own imports
are measured apart from its job time.

    python -m scripts.bench.scale_child rollup|rollup-old CONFIG YYYY-MM-DD
"""

from __future__ import annotations

import json
import sys
import time
from datetime import date
from pathlib import Path


def _calendar(day: date) -> float:
    """Load the exchange calendar's year first (pandas and its holiday rules: about a
    second, once per process) so that it is reported apart from the job's own time."""
    from shared.calendar import get_session

    get_session(day)
    return time.perf_counter()


def child(task: str, config: Path, day: date) -> int:
    t0 = time.perf_counter()
    from shared.config import load_config

    cfg = load_config(config)
    if task == "rollup-old":
        from scripts.bench import rollup_old_job as old

        t1 = time.perf_counter()
        tc = _calendar(day)
        out = old.run(cfg, day)
    elif task == "rollup":
        from collector.pipeline.jobs.rollup import run_rollup

        t1 = time.perf_counter()
        tc = _calendar(day)
        res = run_rollup(cfg, day)
        out = {"status": res.status, "rows": res.rows}
    else:
        raise SystemExit(f"unknown bench task {task}")
    t2 = time.perf_counter()
    print(json.dumps({"import_s": t1 - t0, "calendar_s": tc - t1, "job_s": t2 - tc, **out}))
    return 0


if __name__ == "__main__":
    raise SystemExit(child(sys.argv[1], Path(sys.argv[2]), date.fromisoformat(sys.argv[3])))
