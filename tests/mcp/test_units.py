"""Pure parts of the server: clamping, validated paths, what the calendar expects."""

from __future__ import annotations

import os
from datetime import date, datetime
from pathlib import Path

import pytest

from shared.calendar import ET, get_session
from shared.config import load_config
from shared.due import due_slots, recent_sessions
from shared.queries.limits import Cap, Meta, clamp, take
from shared.queries.paths import DataAccess, QueryError
from shared.storage import Layout

CAP = Cap("limit", 200, 2000)


@pytest.mark.parametrize(
    ("asked", "value", "clamped"),
    [
        (None, 200, False),
        (1, 1, False),
        (2000, 2000, False),
        (0, 1, True),
        (-7, 1, True),
        (2001, 2000, True),
    ],
)
def test_clamp(asked: int | None, value: int, clamped: bool) -> None:
    c = clamp(CAP, asked)
    assert (c.value, c.clamped) == (value, clamped)
    meta = Meta()
    meta.apply(c)
    assert meta.as_dict()["clamped"] is clamped and meta.as_dict()["limit"] == value


def test_take_marks_truncation() -> None:
    meta = Meta()
    assert take(list(range(5)), 3, meta) == [0, 1, 2]
    assert meta.truncated and meta.rows == 3
    meta = Meta()
    assert take([1], 3, meta) == [1] and not meta.truncated


@pytest.fixture()
def access(tmp_path: Path) -> DataAccess:
    cfg_file = tmp_path / "config" / "opt-data.toml"
    cfg_file.parent.mkdir()
    cfg_file.write_text(
        '[ib]\nhost="127.0.0.1"\nport=4002\n[paths]\ndata="data"\n[universe]\nfile="u.csv"\n'
    )
    return DataAccess(Layout.from_config(load_config(cfg_file)), allow_raw=False, allow_clean=True)


def test_views_follow_the_flags(access: DataAccess) -> None:
    assert access.allowed_views() == ("daily_clean",)
    with pytest.raises(QueryError, match="--allow-raw"):
        access.view("intraday")
    with pytest.raises(QueryError, match="unknown view"):
        access.view("view=intraday/../..")
    both = DataAccess(access.layout, allow_raw=True, allow_clean=False)
    assert both.allowed_views() == ("intraday", "close")
    with pytest.raises(QueryError, match="--allow-clean"):
        both.view("daily_clean")


def test_dates_and_slots(access: DataAccess) -> None:
    assert access.trade_date("2025-03-03", today=date(2025, 3, 4)) == date(2025, 3, 3)
    assert access.trade_date(None) is None
    for bad in ("2025-02-30", "03/03/2025", "2025-03-05"):
        with pytest.raises(QueryError):
            access.trade_date(bad, today=date(2025, 3, 4))
    assert access.slot("0930") == "09:30" and access.slot("15:45") == "15:45"
    with pytest.raises(QueryError):
        access.slot("9:3")


def test_a_symlink_out_of_the_data_root_is_refused(access: DataAccess, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    day_dir = access.layout.date_dir("daily_clean", date(2025, 3, 3))
    day_dir.mkdir(parents=True)
    os.symlink(outside, day_dir / "underlying=AAPL")
    with pytest.raises(QueryError, match="outside the data root"):
        access.chain_file("daily_clean", date(2025, 3, 3), "AAPL", None)
    assert access.chain_file("daily_clean", date(2025, 3, 3), "MSFT", None).name == "part.parquet"


def test_due_slots_follow_the_clock(access: DataAccess, tmp_path: Path) -> None:
    cfg = load_config(tmp_path / "config" / "opt-data.toml")
    day = date(2025, 11, 28)  # the day after Thanksgiving: early close at 13:00
    session = get_session(day)
    assert session is not None and session.early_close
    at_noon = due_slots(
        cfg, session, datetime(2025, 11, 28, 12, 1, tzinfo=ET)
    )  # 12:00 + 120 s grace: not yet
    assert (
        at_noon["intraday"][-1] == "11:30"
        and at_noon["close"] == []
        and at_noon["daily_clean"] == []
    )
    evening = due_slots(cfg, session, datetime(2025, 11, 28, 18, 0, tzinfo=ET))
    assert (
        evening["intraday"][-1] == "13:00"
        and evening["close"] == ["13:00"]
        and evening["daily_clean"] == [""]
    )


def test_recent_sessions_skip_weekends_and_holidays() -> None:
    assert recent_sessions(3, date(2025, 12, 27)) == [
        date(2025, 12, 26),
        date(2025, 12, 24),
        date(2025, 12, 23),
    ]


def test_a_file_moved_by_compaction_mid_scan_is_not_an_error(tmp_path: Path) -> None:
    """The issue scan lists a slot file, then compaction moves it before the scan reads it."""
    from datetime import date

    from shared.queries.issues import Scan, _check_recorded, _look_inside

    scan = Scan(budget=10)
    gone = tmp_path / "underlying=AAPL" / "slot=1000.parquet"  # listed, then merged away
    rec = {"rows": 4, "bytes": 100, "quote_fill": 1.0, "greeks_fill": 1.0, "delayed_rows": 0}
    _check_recorded(scan, "intraday", date(2026, 11, 18), "AAPL", "10:00", rec, gone)
    _look_inside(scan, "intraday", date(2026, 11, 18), "AAPL", "10:00", gone)
    assert scan.issues == [] and scan.moved == 2
