"""`streaming_loop.py --dry-run` prints the command the loop would run now: before the window
a full window's duration, inside it what is left of the window (the runbook's promise)."""

from __future__ import annotations

import signal
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine

ET = ZoneInfo("America/New_York")
CONFIG = "config/opt-data.test.toml"


def _dry_run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.syspath_prepend(str(Path("scripts/ops").resolve()))
    # the loop's SIGTERM/SIGINT handlers must not replace pytest's own
    monkeypatch.setattr(signal, "signal", lambda *args: None)
    import streaming_loop

    assert streaming_loop.main(["--config", CONFIG, "--dry-run"]) == 0
    return capsys.readouterr().out


# 2026-11-18: a Wednesday session, 09:30-16:00, window 09:35-16:15 (24000 s)
@time_machine.travel(datetime(2026, 11, 18, 8, 0, tzinfo=ET), tick=False)
def test_before_the_window_the_whole_window(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = _dry_run(capsys, monkeypatch)
    assert "next window 2026-11-18 09:35 - 16:15" in out and "--duration 24000" in out


@time_machine.travel(datetime(2026, 11, 18, 10, 35, tzinfo=ET), tick=False)
def test_inside_the_window_what_is_left_of_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = _dry_run(capsys, monkeypatch)
    assert "--duration 20400" in out, out  # 10:35 to 16:15
