"""Page logic over a real console server (uvicorn) on data the collector wrote (no browser)."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from typing import Any

from tests.console.conftest import SYMBOLS


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
        assert cells[2:4] == ["ok", "ok"] or set(cells[2:4]) <= {"ok", "delayed", "partial"}
        assert cells[0] == "missed" and cells[-1] == "pending"  # due at 12:00 / not yet
    assert 'id="chart-throughput"' in html and 'id="chart-dwell"' in html
    assert re.search(r'class="verdict (PASS|FAIL)"', html), "the selfcheck verdict is not shown"
