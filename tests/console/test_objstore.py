"""The console over an object-store data root shows what it shows over the local tree.

The data the collector wrote for the console tests is put on the loopback S3 server; a
second console (a real uvicorn server) reads it there, with the same ledger. Its pages and
metrics must equal the local console's, which is the oracle; the history page reads every
kind of file (daily bars, daily_clean and intraday partitions) and the overview the ledger
and the run logs.
"""

from __future__ import annotations

import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from collector.console.app import build_app
from collector.console.reads import Reads
from shared.storage import Layout
from tests.console.conftest import Collected, serve
from tests.support.mirror import mirror, on_bucket
from tests.support.s3 import S3Server, make_bucket, use_server

PAGES = [
    "/",
    "/history?symbol=MSFT&date=2026-11-18&view=intraday&slot=11:00",
    "/history?symbol=AAPL&date=2026-11-18&view=daily_clean",
    "/history?symbol=AAPL&date=2026-11-18&view=close",
    "/operations",
]


@pytest.fixture(scope="module")
def urls(collected: Collected, s3_srv: S3Server) -> Iterator[tuple[str, str]]:
    with pytest.MonkeyPatch.context() as mp:
        use_server(mp, s3_srv)
        data = Layout.from_config(collected.cfg).data
        assert isinstance(data, Path)
        cfg = on_bucket(collected.cfg, mirror(data, s3_srv, make_bucket(s3_srv)))
        assert not isinstance(Reads.open(cfg).ctx.layout.clean, Path)
        with serve(build_app(collected.cfg)) as local, serve(build_app(cfg)) as remote:
            yield local, remote


def get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=60) as reply:
        return reply.status, reply.read().decode()


def _steady(html: str) -> str:
    """Without the disk card: an object store has no free space to show."""
    return re.sub(r"disk free</span><b>.*?</b>", "disk free</span>", html)


@pytest.mark.parametrize("page", PAGES)
def test_a_page_is_the_same_over_the_bucket(urls: tuple[str, str], page: str) -> None:
    local_status, local = get(urls[0] + page)
    remote_status, remote = get(urls[1] + page)
    assert (remote_status, local_status) == (200, 200)
    assert _steady(remote) == _steady(local)


def test_history_bars_come_from_the_bucket(urls: tuple[str, str]) -> None:
    _, html = get(urls[1] + "/history?symbol=MSFT&date=2026-11-18&view=daily_clean")
    assert 'id="chart-bars"' in html and html.count("<circle") > 20


def test_metrics_are_the_same_over_the_bucket(urls: tuple[str, str]) -> None:
    local, remote = get(urls[0] + "/metrics")[1], get(urls[1] + "/metrics")[1]
    keep = [ln for ln in local.splitlines() if not ln.startswith("optdata_disk")]
    assert [ln for ln in remote.splitlines() if not ln.startswith("optdata_disk")] == keep
