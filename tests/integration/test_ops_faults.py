"""The operator's fault table, through the real CLI against the simulator: each fault, its
exit code, its error-log line, the alert a local HTTP receiver got, and the data unchanged
where it must be. Wall clock frozen (time-machine) to a mid-session Wednesday."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import time_machine
from typer.testing import CliRunner, Result

from collector.cli.main import app
from collector.gateway_sim import FaultConfig, Leniency, SimConfig, SimThread
from collector.pipeline.jobs.precheck import precheck_contract_cache
from shared.calendar import ET
from shared.config import load_config
from shared.ledger import Ledger, LedgerReader
from shared.storage import Layout, atomic_write_parquet
from tests.support.pipeline import write_config
from tests.support.receiver import Receiver, alert_receiver
from tests.support.tables import snapshot_rows

DAY = date(2026, 11, 18)  # a Wednesday session
EVENING = datetime.combine(DAY, time(18, 0), ET)
DEAD_PORT = 1  # nothing listens there: "connection refused"


@pytest.fixture
def rx() -> Iterator[Receiver]:
    with alert_receiver() as receiver:
        yield receiver


@pytest.fixture
def sims() -> Iterator[list[SimThread]]:
    started: list[SimThread] = []
    yield started
    for sim in started:
        sim.stop()


def start_sim(sims: list[SimThread], **overrides: object) -> SimThread:
    clock = datetime.combine(DAY, time(11, 0), ET)
    sim = SimThread(SimConfig.fast(clock_start=clock, **overrides))
    sim.start()
    sims.append(sim)
    return sim


def config(root: Path, port: int, rx: Receiver, symbols: list[str] | None = None) -> Path:
    write_config(root, port, symbols or ["AAPL"])
    path = root / "opt-data.toml"
    path.write_text(path.read_text() + f'\n[alerts]\nurls = ["{rx.url}"]\n')
    return path


def cli(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def layout_of(cfg: Path) -> Layout:
    return Layout.from_config(load_config(cfg, env={}))


def errors(cfg: Path, day: date = DAY) -> str:
    path = layout_of(cfg).errors_log(day)
    return path.read_text() if path.is_file() else ""


def one_line(result: Result) -> None:
    assert "Traceback" not in result.output, result.output


@time_machine.travel(EVENING, tick=True)
def test_history_refresh_answered_162_keeps_the_stored_bars(
    tmp_path: Path, sims: list[SimThread], rx: Receiver
) -> None:
    # IB lifted historical pacing for bars of 1 minute and up; a gateway that still answers
    # 162 to a repeated request (what this fault is about) is the simulator's lenient switch,
    # with a wide identical-request window so the machine's speed does not matter.
    sim = start_sim(sims, lenient=Leniency(pace_all_bar_sizes=True), hist_identical_window=600.0)
    cfg = config(tmp_path, sim.port, rx)
    first = cli("history", "--config", str(cfg), "--symbols", "AAPL", "--days", "10")
    assert first.exit_code == 0, first.output
    stored = layout_of(cfg).history_file("AAPL")
    before = stored.read_bytes()
    assert pq.read_table(stored).num_rows > 0
    # the same request again within 15 s: IB answers error 162, no bars
    again = cli(
        "history", "--config", str(cfg), "--symbols", "AAPL", "--days", "10", "--force-refresh"
    )
    one_line(again)
    assert again.exit_code == 1, again.output
    assert "IB returned no bars for AAPL (kept" in again.output
    assert stored.read_bytes() == before  # not replaced by an empty file
    assert "ERROR task=history" in errors(cfg) and "kept" in errors(cfg)
    assert any("task_failed" in t for t in rx.titles())


@time_machine.travel(EVENING, tick=True)
def test_corrupt_slot_file_is_a_finding_and_recollecting_replaces_it(
    tmp_path: Path, sims: list[SimThread], rx: Receiver
) -> None:
    sim = start_sim(sims)
    cfg = config(tmp_path, sim.port, rx)
    args = ["--config", str(cfg), "--date", DAY.isoformat()]
    first = cli("snapshot", *args, "--slot", "10:00", "--strikes", "1")
    assert first.exit_code == 0, first.output
    slot_file = layout_of(cfg).chain_file("intraday", DAY, "AAPL", "10:00")
    slot_file.write_bytes(slot_file.read_bytes()[:100])  # a bad copy: truncated
    again = cli("snapshot", *args, "--slot", "10:00", "--strikes", "1")
    one_line(again)
    assert again.exit_code == 0, again.output
    assert "replaced 1 corrupt file(s), moved aside" in again.output
    assert pq.read_table(slot_file).num_rows > 0  # re-collected
    aside = list(slot_file.parent.glob("slot=1000.parquet.corrupt-*"))
    assert len(aside) == 1 and aside[0].stat().st_size == 100  # kept, not deleted
    assert f"corrupt file {slot_file}" in errors(cfg)
    # qa, selfcheck, compact and rollup: a one-line finding, never a traceback
    slot_file.write_bytes(b"PAR1 not parquet at all")
    check = cli("selfcheck", *args, "--symbols", "AAPL")
    one_line(check)
    assert check.exit_code == 1 and "corrupt_files" in check.output
    assert any("selfcheck_fail" in t for t in rx.titles())
    assert not slot_file.exists()
    for bad_day_cmd in (["qa", *args], ["rollup", *args]):
        atomic_write_parquet(slot_file, snapshot_rows("AAPL", "10:00", day=DAY))
        slot_file.write_bytes(b"PAR1 garbage")
        out = cli(*bad_day_cmd)
        one_line(out)
        assert f"corrupt file {slot_file}" in errors(cfg).splitlines()[-1] or out.exit_code
    slot_file.write_bytes(b"PAR1 garbage")
    compact = cli("compact", "--config", str(cfg), "--date", DAY.isoformat())
    one_line(compact)
    assert compact.exit_code == 1 and f"corrupt file {slot_file}" in compact.output


def test_compact_after_a_slot_was_collected_again_succeeds(tmp_path: Path) -> None:
    with alert_receiver() as rx:
        cfg = config(tmp_path, DEAD_PORT, rx)
    layout = layout_of(cfg)
    for slot in ("10:00", "10:30", "11:00"):
        atomic_write_parquet(
            layout.chain_file("intraday", DAY, "AAPL", slot),
            snapshot_rows("AAPL", slot, 300, day=DAY),
        )
    args = ["compact", "--config", str(cfg), "--date", DAY.isoformat()]
    with time_machine.travel(datetime(2026, 11, 30, 8, 0, tzinfo=ET), tick=False):
        assert cli(*args).exit_code == 0
        # the 10:30 slot collected again after the week was compacted, with fewer rows
        atomic_write_parquet(
            layout.chain_file("intraday", DAY, "AAPL", "10:30"),
            snapshot_rows("AAPL", "10:30", 100, day=DAY, conid_base=5000),
        )
        again = cli(*args)
    assert again.exit_code == 0, again.output
    merged = pq.read_table(layout.compacted_file("intraday", DAY, "AAPL"))
    slots = merged.column("slot").to_pylist()
    assert (slots.count("10:00"), slots.count("10:30"), slots.count("11:00")) == (300, 100, 300)


def test_compact_on_a_read_only_data_directory_is_one_line(tmp_path: Path) -> None:
    with alert_receiver() as rx:
        cfg = config(tmp_path, DEAD_PORT, rx)
    layout = layout_of(cfg)
    f = layout.chain_file("intraday", DAY, "AAPL", "10:00")
    atomic_write_parquet(f, snapshot_rows("AAPL", "10:00", day=DAY))
    f.parent.chmod(0o555)
    if os.access(f.parent, os.W_OK):  # root ignores permissions: block the write another way
        layout.compacted_file("intraday", DAY, "AAPL").mkdir()
    try:
        with time_machine.travel(datetime(2026, 11, 30, 8, 0, tzinfo=ET), tick=False):
            out = cli("compact", "--config", str(cfg), "--date", DAY.isoformat())
    finally:
        f.parent.chmod(0o755)
    one_line(out)
    assert out.exit_code == 1 and "compact failed: " in out.output, out.output
    assert len(out.output.strip().splitlines()) == 1
    assert pq.read_table(f).num_rows == 4  # the slot file is untouched
    # a hand-run failure leaves what a scheduled one does: a failed run row, the stack logged
    week = DAY - timedelta(days=DAY.weekday())
    runs = [r for r in LedgerReader(layout.ledger).runs_for_dates([week]) if r["task"] == "compact"]
    assert [r["status"] for r in runs] == ["failed"], runs
    assert runs[0]["error_summary"] and runs[0]["error_summary"] in out.output
    logged = "".join(p.read_text() for p in layout.run_logs.glob("errors/errors_*.log"))
    assert "Traceback" in logged and runs[0]["run_id"] in logged


@time_machine.travel(datetime.combine(DAY, time(8, 0), ET), tick=True)
def test_exit_when_idle_exits_1_once_the_precheck_failed(tmp_path: Path, rx: Receiver) -> None:
    cfg = config(tmp_path, DEAD_PORT, rx)
    out = cli(
        "schedule", "--live", "--exit-when-idle", "--config", str(cfg),
        "--date", DAY.isoformat(), "--symbols", "AAPL",
    )  # fmt: skip
    assert out.exit_code == 1, out.output
    assert "all scheduled tasks done: exiting (idle)" in out.output
    assert "ERROR task=precheck" in errors(cfg)
    assert any("precheck_failed" in t for t in rx.titles())
    runs = LedgerReader(layout_of(cfg).ledger).runs_for_dates([DAY])
    assert not [r for r in runs if r["status"] == "running"]


@time_machine.travel(datetime.combine(DAY, time(9, 0), ET), tick=False)
def test_dry_run_with_the_gateway_down_writes_nothing(tmp_path: Path, rx: Receiver) -> None:
    cfg = config(tmp_path, DEAD_PORT, rx)
    before = sorted(p for p in tmp_path.rglob("*") if p.is_file())
    out = cli(
        "snapshot", "--config", str(cfg), "--date", DAY.isoformat(), "--slot", "10:00", "--dry-run"
    )
    one_line(out)
    assert out.exit_code == 0, out.output
    assert "AAPL: contract cache AAPL_2026-11-18.json is missing" in out.output
    assert "dry run: 0 contracts planned" in out.output and "{}" not in out.output
    assert sorted(p for p in tmp_path.rglob("*") if p.is_file()) == before
    assert rx.messages == []


@time_machine.travel(EVENING, tick=False)
def test_replayed_slot_counts_as_present_and_the_ledger_keeps_the_miss(
    tmp_path: Path, rx: Receiver
) -> None:
    cfg = config(tmp_path, DEAD_PORT, rx)
    layout = layout_of(cfg)
    ledger = Ledger(layout.ledger)
    ledger.record_missed("snapshot", DAY, "10:00", "scheduler started after the slot's grace")
    run = ledger.start_run("snapshot", DAY, "10:00")
    ledger.finish_run(run, "ok")  # the --replay-missed run
    reader = LedgerReader(layout.ledger)
    assert reader.missed_slots("snapshot", DAY) == []
    check = cli("qa", "--config", str(cfg), "--date", DAY.isoformat(), "--symbols", "AAPL")
    assert check.exit_code == 0
    metrics = json.loads(layout.metrics_file(DAY).read_text())
    assert metrics["missed_runs"] == []
    statuses = [r["status"] for r in reader.runs_for_dates([DAY])]
    assert statuses.count("missed") == 1  # history kept


@time_machine.travel(datetime(2026, 11, 19, 4, 30, tzinfo=ET), tick=True)
def test_killed_enrichment_is_marked_interrupted_by_the_next_run(
    tmp_path: Path, rx: Receiver
) -> None:
    cfg = config(tmp_path, DEAD_PORT, rx)
    layout = layout_of(cfg)
    killed = Ledger(layout.ledger).start_run("enrichment", DAY)  # SIGKILL left it running
    atomic_write_parquet(
        layout.chain_file("daily_clean", DAY, "AAPL"), snapshot_rows("AAPL", "16:00", day=DAY)
    )
    out = cli("enrichment", "--config", str(cfg), "--date", DAY.isoformat())
    one_line(out)
    assert out.exit_code == 1  # the gateway is down: this run fails too, loudly
    runs = {r["run_id"]: r for r in LedgerReader(layout.ledger).runs_for_dates([DAY])}
    assert runs[killed]["status"] == "failed"
    assert runs[killed]["error_summary"].startswith("interrupted")
    assert "ERROR task=enrichment" in errors(cfg)
    assert not [r for r in runs.values() if r["status"] == "running"]


@time_machine.travel(EVENING, tick=True)
def test_one_symbol_failing_discovery_reuses_yesterdays_cache(
    tmp_path: Path, sims: list[SimThread], rx: Receiver
) -> None:
    healthy = start_sim(sims)
    cfg = config(tmp_path, healthy.port, rx, ["AAPL", "ACME"])
    # yesterday's ACME cache (today's discovery of ACME will fail)
    asyncio.run(precheck_contract_cache(load_config(cfg, env={}), DAY, None))
    layout = layout_of(cfg)
    today_cache = layout.contract_cache_file("ACME", DAY)
    doc = json.loads(today_cache.read_text())
    yesterday = DAY - timedelta(days=1)
    doc["trade_date"] = yesterday.isoformat()
    layout.contract_cache_file("ACME", yesterday).write_text(json.dumps(doc))
    today_cache.unlink()
    layout.contract_cache_file("AAPL", DAY).unlink()
    broken = start_sim(sims, unknown_symbols=("ACME",))
    cfg.write_text(cfg.read_text().replace(f"port = {healthy.port}", f"port = {broken.port}"))
    out = cli(
        "snapshot",
        "--config",
        str(cfg),
        "--date",
        DAY.isoformat(),
        "--slot",
        "10:00",
        "--strikes",
        "1",
    )
    one_line(out)
    assert out.exit_code == 1, out.output  # collected, but one symbol needs a look
    assert "discovery failed: ACME stale (cache of 2026-11-17" in out.output
    acme = pq.read_table(layout.chain_file("intraday", DAY, "ACME", "10:00")).to_pylist()
    aapl = pq.read_table(layout.chain_file("intraday", DAY, "AAPL", "10:00")).to_pylist()
    assert acme and all("discovery_stale" in r["data_quality_flags"] for r in acme)
    assert aapl and not any("discovery_stale" in r["data_quality_flags"] for r in aapl)
    assert "ERROR task=snapshot" in errors(cfg) and "ACME" in errors(cfg)
    assert any("discovery_failed" in t for t in rx.titles())


@time_machine.travel(EVENING, tick=True)
def test_slot_retry_exceeded_exits_1_logs_and_alerts(
    tmp_path: Path, sims: list[SimThread], rx: Receiver
) -> None:
    healthy = start_sim(sims)
    cfg = config(tmp_path, healthy.port, rx)
    asyncio.run(precheck_contract_cache(load_config(cfg, env={}), DAY, None))
    pacing = start_sim(sims, faults=FaultConfig(pacing_error_rate=1.0))  # pacing that persists
    pacing.sim.book.chain("AAPL", DAY)  # the simulator resolves conIds of listed chains only
    cfg.write_text(cfg.read_text().replace(f"port = {healthy.port}", f"port = {pacing.port}"))
    out = cli("snapshot", "--config", str(cfg), "--date", DAY.isoformat(), "--slot", "10:00")
    one_line(out)
    assert out.exit_code == 1, out.output
    assert "slot_retry_exceeded" in out.output
    line = next(x for x in errors(cfg).splitlines() if "slot_retry_exceeded" in x)
    assert " ERROR task=snapshot trade_date=2026-11-18 slot=10:00 " in line
    assert "ingest_id=snapshot-" in line
    assert any("slot_retry_exceeded" in t for t in rx.titles())
    assert LedgerReader(layout_of(cfg).ledger).missed_slots("snapshot", DAY) == ["10:00"]


@time_machine.travel(EVENING, tick=True)
def test_delayed_fallback_above_the_ratio_is_logged_and_alerted(
    tmp_path: Path, sims: list[SimThread], rx: Receiver
) -> None:
    sim = start_sim(sims, faults=FaultConfig(no_permission_symbols=("AAPL",)))
    cfg = config(tmp_path, sim.port, rx)
    out = cli("snapshot", "--config", str(cfg), "--date", DAY.isoformat(), "--slot", "10:00")
    one_line(out)
    assert out.exit_code == 0, out.output  # collected, on delayed data
    assert " WARNING task=snapshot trade_date=2026-11-18 slot=10:00 " in errors(cfg)
    assert any("delayed_fallback" in t for t in rx.titles())
    body = next(m["message"] for m in rx.messages if "delayed_fallback" in m["title"])
    assert "qa.delayed_ratio_max 10%" in body


def test_a_retention_that_fails_is_one_line_a_failed_run_and_a_logged_stack(
    tmp_path: Path,
) -> None:
    with alert_receiver() as rx:
        cfg = config(tmp_path, DEAD_PORT, rx)
    layout = layout_of(cfg)
    errors = layout.run_logs / "errors"
    errors.mkdir(parents=True, exist_ok=True)
    (errors / "errors_20260101.log").mkdir()  # a folder where an old log should be
    (errors / "errors_20260102.log").write_text("old\n")
    today = date(2026, 11, 30)
    with time_machine.travel(datetime.combine(today, time(8, 0), ET), tick=False):
        out = cli("retention", "--config", str(cfg), "--view", "errors", "--older-than", "30")
    one_line(out)
    assert out.exit_code == 1 and "retention failed: " in out.output, out.output
    runs = [r for r in LedgerReader(layout.ledger).runs_for_dates([today])
            if r["task"] == "retention"]  # fmt: skip
    assert [r["status"] for r in runs] == ["failed"], runs
    logged = (errors / "errors_20261130.log").read_text()
    assert "Traceback" in logged and runs[0]["run_id"] in logged
    # a rerun once the folder is gone succeeds and says so in the ledger
    (errors / "errors_20260101.log").rmdir()
    with time_machine.travel(datetime.combine(today, time(8, 5), ET), tick=False):
        again = cli("retention", "--config", str(cfg), "--view", "errors", "--older-than", "30")
    assert again.exit_code == 0, again.output
    runs = [r for r in LedgerReader(layout.ledger).runs_for_dates([today])
            if r["task"] == "retention"]  # fmt: skip
    assert sorted(r["status"] for r in runs) == ["failed", "ok"], runs
    assert not (errors / "errors_20260102.log").exists()
