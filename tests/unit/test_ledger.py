"""The ledger's named reads and writes, on both backends: the same suite for SQLite (the
embedded default) and Postgres (the shared ledger, a real server started by the suite)."""

from __future__ import annotations

import sqlite3
import threading
import time
from datetime import date
from pathlib import Path

import pytest

from shared.config import ConfigError, load_config
from shared.ledger import (
    Ledger,
    LedgerError,
    LedgerLocation,
    LedgerReader,
    LedgerURL,
    unrepaired_missed,
)
from shared.ledger.sql import PartitionRecord
from shared.storage import Layout
from tests.support.config import tmp_config
from tests.support.postgres import PASSWORD, PostgresServer

DAY = date(2026, 11, 27)
NEXT = date(2026, 12, 1)


@pytest.fixture(params=["sqlite", "postgres"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> LedgerLocation:
    if request.param == "sqlite":
        return tmp_path / "state" / "ledger.sqlite"
    server: PostgresServer = request.getfixturevalue("pg_server")
    return LedgerURL(server.new_database())


def _part(underlying: str, slot: str, rows: int = 10, day: date = DAY, view: str = "intraday"):
    return PartitionRecord(view, day, underlying, slot, f"{underlying}/{slot}", rows, 100 * rows,
                           quote_fill=0.5, greeks_fill=1.0, delayed_rows=1)  # fmt: skip


def test_reader_before_the_writer_sees_no_ledger(location: LedgerLocation) -> None:
    reader = LedgerReader(location)
    assert not reader.exists()
    assert reader.recent_runs(5) == []
    assert reader.latest_date("intraday") is None
    Ledger(location)
    assert reader.exists()


def test_runs_start_finish_and_the_run_reads(location: LedgerLocation) -> None:
    ledger, reader = Ledger(location), LedgerReader(location)
    a = ledger.start_run("snapshot", DAY, "10:00", shard="1/2")
    ledger.finish_run(a, "ok", rows_written=7, total=3, succeeded=3, details={"k": 1})
    b = ledger.start_run("rollup", DAY)
    ledger.finish_run(b, "failed", error_summary="boom")
    m = ledger.record_missed("snapshot", DAY, "10:30", "gateway down", shard="2/2")
    ledger.start_run("snapshot", NEXT, "09:30")

    runs = {r["run_id"]: r for r in reader.runs_for_dates([DAY])}
    assert set(runs) == {a, b, m}
    assert runs[a]["status"] == "ok" and runs[a]["rows_written"] == 7
    assert runs[a]["shard"] == "1/2" and runs[b]["shard"] == ""
    assert runs[a]["details"] == '{"k": 1}' and runs[a]["duration_s"] >= 0
    assert runs[m]["status"] == "missed" and runs[m]["error_summary"] == "gateway down"
    assert reader.status_counts(DAY) == {"ok": 1, "failed": 1, "missed": 1}
    problems = reader.recent_problems(DAY)
    assert {p["task"] for p in problems} == {"rollup", "snapshot"} and len(problems) == 2
    assert [r["task"] for r in reader.recent_runs(10, task="rollup")] == ["rollup"]
    assert [r["run_id"] for r in reader.recent_runs(10, status="missed")] == [m]
    assert len(reader.recent_runs(2)) == 2
    assert reader.shards_seen(DAY) == ["", "1/2", "2/2"]
    with pytest.raises(ValueError, match="bad run status"):
        ledger.finish_run(a, "great")


def test_retry_queue_and_resume_chain_stay_within_their_shard(location: LedgerLocation) -> None:
    ledger, reader = Ledger(location), LedgerReader(location)
    ledger.record_missed("snapshot", DAY, "10:00", "down", shard="1/2")
    ledger.record_missed("snapshot", DAY, "10:00", "down", shard="2/2")
    ok = ledger.start_run("snapshot", DAY, "10:00", shard="2/2")
    ledger.finish_run(ok, "ok")
    assert reader.missed_slots("snapshot", DAY, shard="1/2") == ["10:00"]
    assert reader.missed_slots("snapshot", DAY, shard="2/2") == []
    assert reader.missed_slots("snapshot", DAY) == []  # the unsharded queue is its own

    done = ledger.start_run("snapshot", DAY, "11:00", shard="1/2")
    ledger.finish_run(done, "partial")
    dead1 = ledger.start_run("snapshot", DAY, "11:00", shard="1/2")
    ledger.finish_run(dead1, "failed", error_summary="interrupted: killed")
    dead2 = ledger.start_run("snapshot", DAY, "11:00", shard="1/2")  # left running
    other = ledger.start_run("snapshot", DAY, "11:00", shard="2/2")  # another shard's, alive
    assert reader.resume_chain("snapshot", DAY, "11:00", shard="1/2") == [dead2, dead1]
    assert reader.resume_chain("snapshot", DAY, "11:00", shard="2/2") == [other]
    assert reader.resume_chain("snapshot", DAY, "11:00") == []


def test_partitions_upsert_forget_and_the_partition_reads(location: LedgerLocation) -> None:
    ledger, reader = Ledger(location), LedgerReader(location)
    r1 = ledger.start_run("snapshot", DAY, "10:00")
    ledger.record_partition(_part("AAPL", "10:00"), r1)
    ledger.record_partition(_part("AAPL", "10:30"), r1)
    ledger.record_partition(_part("MSFT", "10:00", rows=0), r1)
    ledger.record_partition(_part("AAPL", "", view="daily_clean", day=NEXT), None)
    r2 = ledger.start_run("snapshot", DAY, "10:00")
    ledger.record_partition(_part("AAPL", "10:00", rows=20), r2)  # a rerun replaces the row

    assert len(reader.partitions_for_date(DAY)) == 3
    assert len(reader.partitions_for_date(DAY, "intraday")) == 3
    row = reader.partition("intraday", DAY, "AAPL", "10:00")
    assert row is not None and row["rows"] == 20 and row["bytes"] == 2000 and row["run_id"] == r2
    assert reader.partition("intraday", DAY, "AAPL", "11:00") is None
    assert reader.partition_dates("intraday") == [DAY]
    assert reader.partition_dates("daily_clean") == [NEXT]
    assert reader.latest_date("intraday") == DAY
    assert reader.latest_date("intraday", "MSFT") == DAY
    assert reader.latest_date("intraday", "NVDA") is None
    assert reader.latest_slot("intraday", DAY, "AAPL") == "10:30"
    assert reader.latest_slot("intraday", DAY, "AAPL", before="10:30") == "10:00"
    assert reader.latest_slot("intraday", DAY, "AAPL", before="10:00") is None
    assert reader.underlyings_written_by("intraday", DAY, "10:00", [r1]) == {"MSFT"}
    assert reader.underlyings_written_by("intraday", DAY, "10:00", [r1, r2]) == {"AAPL", "MSFT"}
    assert reader.underlyings_written_by("intraday", DAY, "10:00", []) == set()

    summary = reader.day_summary("intraday", DAY)
    assert summary["n"] == 3 and summary["rows"] == 30 and summary["empty"] == 1
    assert summary["bytes"] == 3000 and summary["delayed"] == 3
    assert all(type(summary[k]) is int for k in ("n", "rows", "empty", "bytes", "delayed"))
    assert summary["greeks"] == pytest.approx(30.0) and summary["quotes"] == pytest.approx(15.0)
    assert summary["slot"] == "10:30"
    assert reader.day_summary("close", DAY)["n"] == 0

    ledger.forget_partition("intraday", DAY, "AAPL", "10:30")
    assert reader.latest_slot("intraday", DAY, "AAPL") == "10:00"


def test_bulk_load_inserts_updates_and_refuses_unknown_columns(location: LedgerLocation) -> None:
    ledger, reader = Ledger(location), LedgerReader(location)
    base = {"view": "close", "trade_date": DAY.isoformat(), "underlying": "SPY", "slot": "16:00",
            "path": "p", "rows": 5, "bytes": 50, "written_at": "2026-11-27T21:00:00+00:00"}  # fmt: skip
    run = {"run_id": "close-1", "task": "close-snapshot", "trade_date": DAY.isoformat(),
           "status": "ok", "started_at": "2026-11-27T21:00:00+00:00"}  # fmt: skip
    ledger.bulk_load(partitions=[base], runs=[run])
    ledger.bulk_load(partitions=[{**base, "rows": 6}], runs=[{**run, "status": "partial"}])
    row = reader.partition("close", DAY, "SPY", "16:00")
    assert row is not None and row["rows"] == 6
    assert reader.status_counts(DAY) == {"partial": 1}
    with pytest.raises(ValueError, match="not partitions columns"):
        ledger.bulk_load(partitions=[{**base, "drop table": 1}])


def test_the_reader_cannot_write(location: LedgerLocation) -> None:
    Ledger(location)
    reader = LedgerReader(location)
    # The reader's own connection (the one every named read uses) refuses a write.
    with pytest.raises(Exception, match=r"(?i)read.?only"), reader._db.reader() as con:
        con.run("DELETE FROM runs")


def test_collectors_starting_together_create_the_schema_once(location: LedgerLocation) -> None:
    errors: list[BaseException] = []

    def start() -> None:
        try:
            Ledger(location).start_run("precheck", DAY)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert LedgerReader(location).status_counts(DAY) == {"running": 4}


def test_an_old_sqlite_ledger_gains_the_shard_column(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE runs (run_id TEXT PRIMARY KEY, task TEXT NOT NULL, trade_date TEXT, "
                "slot TEXT, status TEXT NOT NULL, started_at TEXT NOT NULL, finished_at TEXT, "
                "duration_s REAL, rows_written INTEGER DEFAULT 0, total INTEGER DEFAULT 0, "
                "succeeded INTEGER DEFAULT 0, failed INTEGER DEFAULT 0, error_summary TEXT, "
                "details TEXT)")  # fmt: skip
    con.execute("INSERT INTO runs (run_id, task, trade_date, slot, status, started_at) "
                "VALUES ('old', 'snapshot', '2026-11-27', '10:00', 'missed', 'x')")  # fmt: skip
    con.commit()
    con.close()
    Ledger(path)
    assert LedgerReader(path).missed_slots("snapshot", DAY) == ["10:00"]


def test_the_url_password_stays_out_of_repr_layout_and_errors(
    tmp_path: Path, pg_server: PostgresServer
) -> None:
    url = LedgerURL(pg_server.url("nosuchdb"))
    assert PASSWORD not in repr(url) and PASSWORD not in str(url) and "***" in str(url)
    cfg = load_config(tmp_config(tmp_path), env={"OPT_DATA_LEDGER_URL": url.secret()})
    assert PASSWORD not in repr(cfg)
    layout = Layout.from_config(cfg)
    assert layout.ledger == url and PASSWORD not in str(layout.as_dict())
    with pytest.raises(LedgerError) as err:
        Ledger(url)
    assert "nosuchdb" in str(err.value) and PASSWORD not in str(err.value)


def test_a_ledger_url_of_another_scheme_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_config(tmp_path, '\n[ledger]\nurl = "mysql://u:pw@h/db"\n')
    with pytest.raises(ConfigError, match=r"ledger\.url") as err:
        load_config(path, env={})
    assert "pw" not in str(err.value)


def test_batched_partition_writes_and_interrupted_slotless_runs(location: LedgerLocation) -> None:
    ledger, reader = Ledger(location), LedgerReader(location)
    run = ledger.start_run("snapshot", DAY, "10:00")
    ledger.record_partitions([_part("AAPL", "10:00"), _part("MSFT", "10:00")], run)
    ledger.record_partitions_with_runs([(_part("SPY", "10:00"), "other-run")])
    rows = {r["underlying"]: r["run_id"] for r in reader.partitions_for_date(DAY)}
    assert rows == {"AAPL": run, "MSFT": run, "SPY": "other-run"}

    dead_mine = ledger.start_run("rollup", DAY, shard="1/2")
    alive_other = ledger.start_run("rollup", DAY, shard="2/2")  # another shard's, not ours
    no_day = ledger.start_run("history", None)
    now = ledger.start_run("rollup", DAY, shard="1/2")
    assert ledger.mark_interrupted("rollup", DAY, now, shard="1/2") == [dead_mine]
    assert ledger.mark_interrupted("history", None, "h2") == [no_day]
    status = {r["run_id"]: r["status"] for r in reader.recent_runs(10)}
    assert status[dead_mine] == "failed" and status[no_day] == "failed"
    assert status[alive_other] == "running" and status[now] == "running"


def test_one_shards_rerun_does_not_repair_anothers_miss(location: LedgerLocation) -> None:
    ledger, reader = Ledger(location), LedgerReader(location)
    ledger.record_missed("snapshot", DAY, "10:00", "down", shard="1/2")
    ledger.record_missed("snapshot", DAY, "10:00", "down", shard="2/2")
    ledger.finish_run(ledger.start_run("snapshot", DAY, "10:00", shard="2/2"), "ok")
    left = unrepaired_missed(reader.runs_for_dates([DAY]))
    assert [(r["slot"], r["shard"]) for r in left] == [("10:00", "1/2")]


def test_the_discovery_reads_and_a_kept_reader_that_sees_new_commits(
    location: LedgerLocation,
) -> None:
    ledger = Ledger(location)
    reader = LedgerReader(location, keep_open=True)
    for sym, slot, day in (("AAPL", "10:00", DAY), ("AAPL", "10:30", DAY), ("AAPL", "10:00", NEXT)):
        ledger.record_partition(_part(sym, slot, day=day), None)
    version = reader.data_version()
    ranges = reader.underlying_ranges("intraday")
    assert [(r["underlying"], r["first_date"], r["last_date"], r["sessions"], r["partitions"])
            for r in ranges] == [("AAPL", DAY.isoformat(), NEXT.isoformat(), 2, 3)]  # fmt: skip
    slots = reader.session_slots("intraday", "AAPL", DAY, NEXT)
    assert [(r["trade_date"], r["slot"], r["rows"]) for r in slots] == [
        (NEXT.isoformat(), "10:00", 10), (DAY.isoformat(), "10:00", 10),
        (DAY.isoformat(), "10:30", 10),
    ]  # fmt: skip
    assert reader.nearest_dates("intraday", "AAPL", date(2026, 11, 30)) == (DAY, NEXT)
    assert reader.slots_on("intraday", DAY, "AAPL") == ["10:00", "10:30"]

    ledger.record_partition(_part("MSFT", "11:00"), None)  # another connection commits
    assert reader.slots_on("intraday", DAY, "MSFT") == ["11:00"]  # the kept one sees it
    if isinstance(location, LedgerURL):
        assert version is None  # no commit counter: readers keep nothing derived
    else:
        assert version is not None and reader.data_version() != version
    reader.close()


def _indexes(location: LedgerLocation) -> list[str]:
    """The names of the partitions table's indexes, read by the backend's own catalogue."""
    if isinstance(location, LedgerURL):
        import psycopg

        with psycopg.connect(location.secret()) as con:
            rows = con.execute(
                "SELECT indexname FROM pg_indexes WHERE tablename = 'partitions'"
            ).fetchall()
        return sorted(r[0] for r in rows)
    with sqlite3.connect(location) as con:
        rows = con.execute("PRAGMA index_list(partitions)").fetchall()
    return sorted(r[1] for r in rows)


def test_the_by_underlying_index_is_created_once_even_on_an_older_ledger(
    location: LedgerLocation,
) -> None:
    ledger = Ledger(location)
    ledger.record_partition(_part("AAPL", "10:00"), None)
    with ledger._db.writer() as con:  # a ledger made before the index existed
        con.run("DROP INDEX partitions_by_underlying")
    assert "partitions_by_underlying" not in _indexes(location)
    Ledger(location)  # the next collector start migrates it ...
    Ledger(location)  # ... and a second start changes nothing
    names = _indexes(location)
    assert names.count("partitions_by_underlying") == 1
    reader = LedgerReader(location)
    assert [r["underlying"] for r in reader.underlying_ranges("intraday")] == ["AAPL"]


def test_the_reads_by_symbol_use_the_index(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    ledger = Ledger(path)
    days = [date(2026, 11, d) for d in range(2, 28)]
    ledger.record_partitions([_part(f"S{i}", s, day=d) for d in days for i in range(30)
                              for s in ("10:00", "10:30")], None)  # fmt: skip
    reader = LedgerReader(path)
    seen: list[str] = []
    real = reader._rows

    def explained(sql: str, params=()):  # type: ignore[no-untyped-def]
        with sqlite3.connect(path) as con:  # how SQLite runs each named read
            seen.append(" ".join(str(r[-1]) for r in con.execute("EXPLAIN QUERY PLAN " + sql,
                                                                  tuple(params))))  # fmt: skip
        return real(sql, params)

    reader._rows = explained  # type: ignore[method-assign]
    assert len(reader.underlying_ranges("intraday")) == 30  # list_underlyings
    assert len(reader.session_slots("intraday", "S1", days[0], days[-1])) == 52  # list_sessions
    assert reader.nearest_dates("intraday", "S1", days[5]) == (days[4], days[6])
    assert len(seen) == 4 and all("partitions_by_underlying" in plan for plan in seen), seen


def test_streamed_parts_add_up_per_underlying_and_day(location: LedgerLocation) -> None:
    ledger, reader = Ledger(location), LedgerReader(location)
    first = ledger.start_run("streaming", DAY, shard="1/2")
    part = PartitionRecord("streaming", DAY, "SPY", "", "streaming/SPY", 10, 100)
    ledger.add_streamed([part, PartitionRecord("streaming", DAY, "QQQ", "", "q", 4, 40)], first)
    ledger.add_streamed([part], first)
    second = ledger.start_run("streaming", DAY, shard="1/2")  # a restart adds, never replaces
    ledger.add_streamed([part], second)
    row = reader.partition("streaming", DAY, "SPY", "")
    assert row is not None and (row["rows"], row["bytes"], row["run_id"]) == (30, 300, second)
    assert reader.day_summary("streaming", DAY)["rows"] == 34


def _backends(server: PostgresServer, database: str, settle_at: int | None = None) -> int:
    """Backends connected to `database`. A closed connection's backend leaves
    pg_stat_activity a moment after the client hangs up (the server process exits on its
    own), so with `settle_at` the count is read again until it reaches that figure, up to
    a bound (an event awaited, not a duration asserted)."""
    import psycopg

    count = -1
    for _ in range(100):
        with psycopg.connect(server.url(), autocommit=True) as admin:
            row = admin.execute(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = %s", (database,)
            ).fetchone()
        assert row is not None
        count = int(row[0])
        if settle_at is None or count == settle_at:
            return count
        time.sleep(0.05)
    return count


def test_a_done_reader_and_process_exit_close_every_postgres_connection(
    pg_server: PostgresServer,
) -> None:
    from shared.ledger.backend import close_all_at_exit

    url = pg_server.new_database()
    name = url.rsplit("/", 1)[1]
    Ledger(LedgerURL(url)).start_run("snapshot", DAY)
    assert _backends(pg_server, name, settle_at=0) == 0  # the writer's ends with its write

    def read_in_threads(reader: LedgerReader) -> None:
        threads = [threading.Thread(target=reader.status_counts, args=(DAY,)) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    with LedgerReader(LedgerURL(url), keep_open=True) as reader:
        read_in_threads(reader)  # one kept connection per worker thread
        assert _backends(pg_server, name) == 3
    assert _backends(pg_server, name, settle_at=0) == 0  # the reader is done: all closed
    assert reader.status_counts(DAY) == {"running": 1}  # a later read opens a new one
    reader.close()

    server_reader = LedgerReader(LedgerURL(url), keep_open=True)  # e.g. the MCP server's
    read_in_threads(server_reader)
    assert _backends(pg_server, name) == 3
    close_all_at_exit()  # what the interpreter runs at exit
    assert _backends(pg_server, name, settle_at=0) == 0
