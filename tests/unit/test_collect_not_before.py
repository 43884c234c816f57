"""Collecting by hand before the data exists: a later slot, the close before the close, open
interest before the next session's morning, or a future date. The rows would carry a time that
has not come, and a restarted scheduler would take the slot for done, so the command refuses
with one line and exit 2 before it connects or writes anything."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
import time_machine
from typer.testing import CliRunner

from collector.cli.main import app
from shared.calendar import ET, get_session
from shared.config import load_config
from shared.due import too_early
from shared.tasks import Task
from tests.support.config import tmp_config

DAY = date(2026, 11, 18)  # a Wednesday, full session
HALF_DAY = date(2026, 11, 27)  # the day after Thanksgiving: closes at 13:00
MID_MORNING = datetime(2026, 11, 18, 10, 40, tzinfo=ET)


def test_too_early_is_exact_at_each_boundary(tmp_path: Path) -> None:
    cfg = load_config(tmp_config(tmp_path), env={})
    day, half = get_session(DAY), get_session(HALF_DAY)
    assert day is not None and half is not None
    at = datetime(2026, 11, 18, 11, 0, tzinfo=ET)
    assert too_early(cfg, Task.SNAPSHOT, day, at, "11:00") is None  # its time has come
    assert "cannot run before 2026-11-18 11:00 ET" in (
        too_early(cfg, Task.SNAPSHOT, day, MID_MORNING, "11:00") or ""
    )
    assert too_early(cfg, Task.SNAPSHOT, day, MID_MORNING, "10:30") is None
    # the close view: from the session's real close, 13:00 on a half day
    assert (
        too_early(cfg, Task.CLOSE_SNAPSHOT, half, datetime(2026, 11, 27, 13, 0, tzinfo=ET)) is None
    )
    assert too_early(cfg, Task.CLOSE_SNAPSHOT, day, datetime(2026, 11, 18, 15, 59, tzinfo=ET))
    # open interest of Friday 11-27 is read on Monday 11-30 at the enrichment time (04:30)
    assert too_early(cfg, Task.ENRICHMENT, half, datetime(2026, 11, 29, 23, 0, tzinfo=ET))
    assert too_early(cfg, Task.ENRICHMENT, half, datetime(2026, 11, 30, 4, 30, tzinfo=ET)) is None
    # the day's roll-up likewise: from the close on (the intraday fallback needs the day over)
    assert too_early(cfg, Task.ROLLUP, day, MID_MORNING)
    assert too_early(cfg, Task.ROLLUP, day, datetime(2026, 11, 18, 16, 0, tzinfo=ET)) is None
    # tasks that only read or reshape stored data have no such instant
    assert too_early(cfg, Task.QA, day, MID_MORNING) is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["snapshot", "--date", "today", "--slot", "11:00"], "snapshot 2026-11-18 11:00 cannot"),
        (["snapshot", "--date", "2026-12-15", "--slot", "10:00"], "snapshot 2026-12-15 10:00"),
        (["close-snapshot", "--date", "today"], "close-snapshot 2026-11-18 cannot run before"),
        (["rollup", "--date", "today"], "rollup 2026-11-18 cannot run before 2026-11-18 16:00 ET"),
        (["enrichment", "--date", "today"], "before 2026-11-19 04:30 ET"),
        (["enrichment", "--date", "2026-11-17"], None),  # yesterday's OI is due: past the guard
    ],
)
@time_machine.travel(MID_MORNING, tick=False)
def test_collecting_before_the_data_exists_exits_2_writing_nothing(
    tmp_path: Path, args: list[str], message: str | None
) -> None:
    cfg = tmp_config(tmp_path)
    result = CliRunner().invoke(app, [*args, "--config", str(cfg)])
    if message is None:  # no daily_clean for that date: the job's own exit 2, not ours
        assert "cannot run before" not in result.output, result.output
        return
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("opt-data: error: "), result.output
    assert message in lines[0] and "(now 2026-11-18 10:40 ET)" in lines[0], lines[0]
    assert not (tmp_path / "state").exists() and not (tmp_path / "data").exists()


@time_machine.travel(MID_MORNING, tick=False)
def test_a_dry_run_of_a_later_slot_is_still_a_plan(tmp_path: Path) -> None:
    cfg = tmp_config(tmp_path)
    result = CliRunner().invoke(
        app, ["snapshot", "--date", "today", "--slot", "15:00", "--dry-run", "--config", str(cfg)]
    )
    assert "cannot run before" not in result.output, result.output
