"""Relative trade dates (shared.calendar.parse_trade_date), against hand-checked XNYS answers.

Each "now" is chosen for what it exercises:
- Mon 2026-11-30 08:00 ET: the Monday after the Thanksgiving half day (Fri 11-27, 13:00
  close) and Thanksgiving itself (Thu 11-26, closed);
- Sat 2026-11-28 12:00 ET: a weekend "today";
- Fri 2026-12-25 10:00 ET: Christmas, a holiday "today", after the Christmas Eve half day;
- Tue 2026-01-20 18:00 ET: after the close, the day after Martin Luther King Day (Mon 01-19).
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import pytest

from scripts.bench.synthetic_store import Shape, build_store
from shared.calendar import ET, closed_reason, parse_trade_date
from shared.config import load_config
from shared.storage import Layout
from tests.support.clock import SERVER_NOW, STORE_END, pinned_env

MON_AFTER_THANKSGIVING = datetime(2026, 11, 30, 8, 0, tzinfo=ET)
SATURDAY = datetime(2026, 11, 28, 12, 0, tzinfo=ET)
CHRISTMAS = datetime(2026, 12, 25, 10, 0, tzinfo=ET)
AFTER_MLK_CLOSE = datetime(2026, 1, 20, 18, 0, tzinfo=ET)


@pytest.mark.parametrize(
    ("text", "now", "want"),
    [
        ("today", MON_AFTER_THANKSGIVING, date(2026, 11, 30)),
        ("yesterday", MON_AFTER_THANKSGIVING, date(2026, 11, 27)),  # the half day
        ("last_session", MON_AFTER_THANKSGIVING, date(2026, 11, 27)),  # today not closed yet
        ("-1", MON_AFTER_THANKSGIVING, date(2026, 11, 27)),
        ("-2", MON_AFTER_THANKSGIVING, date(2026, 11, 25)),  # skips Thanksgiving
        ("-0", MON_AFTER_THANKSGIVING, date(2026, 11, 30)),
        ("monday", MON_AFTER_THANKSGIVING, date(2026, 11, 30)),  # today is a Monday session
        ("Thursday", MON_AFTER_THANKSGIVING, date(2026, 11, 19)),  # 11-26 was a holiday
        ("fri", MON_AFTER_THANKSGIVING, date(2026, 11, 27)),
        ("today", SATURDAY, date(2026, 11, 28)),
        ("yesterday", SATURDAY, date(2026, 11, 27)),
        ("last_session", SATURDAY, date(2026, 11, 27)),
        ("-5", SATURDAY, date(2026, 11, 20)),
        ("yesterday", CHRISTMAS, date(2026, 12, 24)),
        ("friday", CHRISTMAS, date(2026, 12, 18)),  # Christmas Friday is closed
        ("last_session", AFTER_MLK_CLOSE, date(2026, 1, 20)),  # closed by 18:00
        ("monday", AFTER_MLK_CLOSE, date(2026, 1, 12)),  # MLK Day skipped
        ("yesterday", AFTER_MLK_CLOSE, date(2026, 1, 16)),
        (" LAST_SESSION ", AFTER_MLK_CLOSE, date(2026, 1, 20)),
        ("2026-07-03", AFTER_MLK_CLOSE, date(2026, 7, 3)),
    ],
)
def test_relative_dates(text: str, now: datetime, want: date) -> None:
    assert parse_trade_date(text, now=now) == want


@pytest.mark.parametrize("bad", ["saturday", "sun", "-99999", "- 1", "+1", "tomorrow", "x" * 5000])
def test_words_that_are_not_dates_are_one_short_line(bad: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_trade_date(bad, now=MON_AFTER_THANKSGIVING)
    message = str(info.value)
    assert "\n" not in message and len(message) < 200


def test_closed_reason_names_weekends_and_holidays() -> None:
    assert closed_reason(date(2026, 11, 28)) == "a Saturday"
    assert closed_reason(date(2026, 11, 26)) == "an XNYS holiday"
    assert closed_reason(date(2026, 11, 27)) is None


@pytest.mark.parametrize("word", ["yesterday", "-1", "friday"])
def test_the_cli_takes_the_same_words(word: str, tmp_path: Path) -> None:
    """`opt-data qa --date WORD` on a store whose newest session is Friday 2026-11-20, with
    the clock pinned on the Saturday after: every word means that Friday."""
    config = build_store(
        tmp_path, sessions=1, symbols=2, shape=Shape(expiries=1, strikes=2), end=STORE_END
    )
    env = {**os.environ, **pinned_env(SERVER_NOW)}
    out = subprocess.run([str(Path(sys.executable).parent / "opt-data"), "qa", "--config", str(config),
                          "--date", word], capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr[-500:]
    layout = Layout.from_config(load_config(config))
    assert layout.metrics_file(STORE_END).is_file()
