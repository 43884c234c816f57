"""Fixed dates for tests: the suite never asks the wall clock what day it is.

STORE_END is the newest session of the synthetic MCP stores: Friday 2026-11-20, a full
09:30-16:00 session away from holidays and DST changes. SERVER_NOW is the instant an MCP
server started by a test believes it is: the Saturday morning after, when every slot,
close, rollup and the run logs of that Friday are due. Servers run in subprocesses, so
the instant reaches them through OPT_DATA_NOW, the environment variable the one clock
(shared.calendar.now_et) reads.
"""

from __future__ import annotations

from datetime import date, datetime

from shared.calendar import ET, NOW_ENV

STORE_END = date(2026, 11, 20)
SERVER_NOW = datetime(2026, 11, 21, 10, 0, tzinfo=ET)


def pinned_env(now: datetime = SERVER_NOW) -> dict[str, str]:
    """Environment for a subprocess whose calendar 'now' is `now`."""
    return {NOW_ENV: now.isoformat()}
