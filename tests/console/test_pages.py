"""Page logic over a real console server (uvicorn) on data the collector wrote (no browser)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from collector.console.app import build_app
from collector.lock import RunLock
from shared.ledger import LedgerReader
from shared.storage import Layout
from tests.console.conftest import SYMBOLS, Collected, serve
from tests.support.pipeline import SIM_DAY

OPT_DATA = str(Path(sys.executable).parent / "opt-data")


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=60) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def post(url: str, body: dict[str, Any], header: bool = True) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": "application/json"} | ({"X-Opt-Data": "1"} if header else {})
    req = urllib.request.Request(url, json.dumps(body).encode(), headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_overview_shows_the_grid_charts_and_verdicts(console_url: str) -> None:
    status, html = get(console_url + "/")
    assert status == 200
    for sym in SYMBOLS:
        row = re.search(rf"<tr><th>{sym}</th>(.*?)</tr>", html)
        assert row, f"no grid row for {sym}"
        cells = re.findall(r'data-status="(\w+)"', row.group(1))
        assert len(cells) == 14  # 09:30 ... 16:00 every 30 minutes
        assert cells[2:4] == ["ok", "ok"]  # 10:30 and 11:00 were collected
        assert cells[:2] == ["missed", "missed"]  # due by 12:00, never collected
        assert cells[-1] == "pending"  # 16:00 is not due at 12:00
    assert 'id="chart-throughput"' in html and 'id="chart-dwell"' in html
    assert re.search(r'class="verdict (PASS|FAIL)"', html), "the selfcheck verdict is not shown"


def test_history_draws_bars_and_the_chain_charts(console_url: str) -> None:
    status, html = get(
        console_url + "/history?symbol=MSFT&date=2026-11-18&view=intraday&slot=11:00"
    )
    assert status == 200
    for chart in (
        "chart-bars",
        "chart-smile",
        "chart-term",
        "chart-intraday-iv",
        "chart-pc",
        "chart-gex",
    ):
        assert f'id="{chart}"' in html, chart
    assert html.count("<circle") > 20
    assert get(console_url + "/history?symbol=NOPE")[1].count("unknown underlying") == 1


def test_metrics_are_openmetrics_with_the_overview_figures(console_url: str) -> None:
    from prometheus_client.openmetrics.parser import text_string_to_metric_families

    with urllib.request.urlopen(console_url + "/metrics", timeout=60) as r:
        assert r.headers["Content-Type"].startswith("application/openmetrics-text")
        text = r.read().decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    coverage = {s.labels["view"]: s.value for s in families["optdata_coverage_ratio"].samples}
    assert 0 < coverage["intraday"] <= 1
    assert families["optdata_snapshot_contracts_per_second"].samples[0].value > 0
    assert families["optdata_gateway_up"].samples[0].value == 1.0
    assert families["optdata_scheduler_running"].samples[0].value == 0.0
    assert families["optdata_last_task_timestamp_seconds"].samples[0].value > 0
    cells = {s.labels["status"]: s.value for s in families["optdata_slot_cells"].samples}
    assert cells["ok"] >= 4 and sum(cells.values()) == len(SYMBOLS) * 14


def test_a_run_page_shows_the_ledger_row(console_url: str) -> None:
    _, html = get(console_url + "/")
    run_id = re.search(r'href="/runs/([^"]+)"', html)
    assert run_id
    status, page = get(console_url + "/runs/" + run_id.group(1))
    assert status == 200 and run_id.group(1) in page and "throughput" in page
    status, page = get(console_url + "/runs/snapshot-19700101T000000-nothere")
    assert status == 404 and "no run snapshot-19700101T000000-nothere in the ledger" in page


def test_jobs_are_refused_while_the_slot_is_locked(console_url: str, collected: Collected) -> None:
    locks = Layout.from_config(collected.cfg).run_locks()
    with RunLock(locks, "snapshot_2026-11-18_1100", command="snapshot 11:00"):
        code, out = post(
            console_url + "/api/jobs",
            {"operation": "snapshot", "date": "2026-11-18", "slot": "11:00"},
        )
    assert code == 409
    assert f"held by pid {os.getpid()}" in out["error"] and "(snapshot 11:00)" in out["error"]
    # at the pinned 12:00 the 15:00 slot, the close and the roll-up cannot exist yet: the
    # console says so at once, as the command would, instead of starting a job that fails
    for form in ({"operation": "snapshot", "date": "2026-11-18", "slot": "15:00"},
                 {"operation": "close-snapshot", "date": "2026-11-18"},
                 {"operation": "rollup", "date": "2026-11-18"}):  # fmt: skip
        code, out = post(console_url + "/api/jobs", form)
        assert code == 409 and "cannot run before" in out["error"], out
    code, out = post(
        console_url + "/api/jobs", {"operation": "snapshot", "slot": "11:00"}, header=False
    )
    assert code == 403  # a cross-site form cannot add the header
    code, out = post(console_url + "/api/jobs", {"operation": "nope"})
    assert code == 409 and "unknown operation" in out["error"]


def test_read_only_and_token(collected: Collected) -> None:
    with serve(build_app(collected.cfg, read_only=True)) as url:
        code, out = post(url + "/api/jobs", {"operation": "rollup", "date": "2026-11-18"})
        assert code == 403 and "read-only" in out["error"]
        assert "operations are off" in get(url + "/operations")[1]
    token = "t" * 24
    with serve(build_app(collected.cfg, token=token)) as url:
        assert get(url + "/")[0] == 401
        assert get(url + "/metrics")[0] == 401
        req = urllib.request.Request(url + "/metrics", headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(req, timeout=60) as r:
            assert r.status == 200
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        with opener.open(url + f"/?token={token}", timeout=60) as r:  # sets the cookie, redirects
            assert r.status == 200 and "Slot grid" in r.read().decode() and "token=" not in r.url


def test_audit_and_console_commands_fail_in_one_line(collected: Collected, tmp_path: Path) -> None:
    cfg = str(collected.cfg.source_file)
    out = subprocess.run([OPT_DATA, "audit", "--config", cfg, "--audit-db", str(tmp_path / "none.db")],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert out.returncode == 1 and out.stderr.count("\n") == 1 and "has not run yet" in out.stderr
    out = subprocess.run([OPT_DATA, "console", "--config", cfg, "--host", "0.0.0.0"],
                         capture_output=True, text=True, timeout=120, env=os.environ | {"OPT_DATA_CONSOLE_TOKEN": ""})  # fmt: skip
    assert out.returncode == 2 and "without a token" in out.stderr and "Traceback" not in out.stderr


def test_a_job_outlives_the_console_that_started_it(collected: Collected) -> None:
    ledger = LedgerReader(Layout.from_config(collected.cfg).ledger)

    def slot_runs() -> list[dict[str, object]]:
        return [r for r in ledger.runs_for_dates([SIM_DAY]) if r["slot"] == "11:30"]

    earlier = {r["run_id"] for r in slot_runs()}  # the browser test may have run this slot
    with serve(build_app(collected.cfg)) as url:
        code, job = post(
            url + "/api/jobs", {"operation": "snapshot", "date": "2026-11-18", "slot": "11:30"}
        )
        assert code == 202 and job["client_id"] == 200, job  # the console pool's first id
    deadline = time.monotonic() + 120  # the console is gone; the job goes on
    while time.monotonic() < deadline:
        runs = [r for r in slot_runs() if r["run_id"] not in earlier]
        if runs and runs[-1]["status"] != "running":
            break
        time.sleep(0.2)
    assert runs and runs[-1]["status"] == "ok", runs
    output = Path(job["output"]).read_text()
    assert '"status": "ok"' in output and "progress snapshot 2026-11-18 11:30" in output
