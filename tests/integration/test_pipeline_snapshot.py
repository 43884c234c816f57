"""The snapshot job against the simulated gateway with the real ib_async client."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.compute as pc

from collector.gateway_sim import FaultConfig
from collector.pipeline.jobs.precheck import precheck_contract_cache
from collector.pipeline.jobs.snapshot import run_snapshot
from collector.pipeline.retry import missed_slots
from collector.pipeline.run import JobResult
from shared import schema as S
from shared.config import AppConfig
from shared.ledger import LedgerReader
from shared.storage import Layout
from tests.support.pipeline import (
    SIM_DAY,
    prime_sim,
    read_view,
    running_sim,
    sim_config,
    write_config,
)


def assert_unique_keys(table) -> None:  # type: ignore[no-untyped-def]
    keys = list(
        zip(
            table.column("trade_date").to_pylist(),
            table.column("sample_time").to_pylist(),
            table.column("conid").to_pylist(),
            strict=True,
        )
    )
    assert len(keys) == len(set(keys)), "duplicate (trade_date, sample_time, conid)"


async def test_snapshot_greeks_sentinels_ledger_and_logs(tmp_path: Path) -> None:
    faults = FaultConfig(missing_greeks_fraction=0.3)
    async with running_sim(sim_config(faults=faults)) as sim:
        cfg = write_config(tmp_path, sim.port, ["AAPL", "SPX"], timeout=0.5)
        result = await run_snapshot(cfg, SIM_DAY, "11:00", progress=False)
        stats = sim.stats.as_dict()
    assert result.status in ("ok", "partial"), result.message
    table = read_view(cfg, "intraday", SIM_DAY)
    assert table.schema == S.SNAPSHOT_SCHEMA
    assert table.num_rows == result.rows == result.total > 0
    assert_unique_keys(table)
    rows = table.to_pylist()
    sentinel = [r for r in rows if S.FLAG_GREEKS_SENTINEL in r["data_quality_flags"]]
    computed = [r for r in rows if S.FLAG_MISSING_GREEKS not in r["data_quality_flags"]]
    assert sentinel and computed
    for r in sentinel:
        assert r["iv"] is None and r["vega"] is None and r["theta"] is None and r["delta"] is None
    for r in computed:
        assert r["iv"] > 0 and -1 <= r["delta"] <= 1 and r["vega"] >= 0 and r["gamma"] >= 0
    assert {r["market_data_type"] for r in rows} == {1}
    assert {r["underlying"] for r in rows} == {"AAPL", "SPX"}
    assert {r["trading_class"] for r in rows if r["underlying"] == "SPX"} <= {"SPX", "SPXW"}
    # IB's limits were never hit.
    assert 100 not in stats["errors_sent"] and 101 not in stats["errors_sent"]
    layout = Layout.from_config(cfg)
    parts = LedgerReader(layout.ledger).partitions_for_date(SIM_DAY, "intraday")
    assert {p["underlying"] for p in parts} == {"AAPL", "SPX"}
    assert sum(p["rows"] for p in parts) == table.num_rows
    assert all(p["bytes"] > 0 and p["quote_fill"] is not None for p in parts)
    refs = [json.loads(x) for x in layout.reference_prices_file(SIM_DAY).read_text().splitlines()]
    assert {r["symbol"] for r in refs} == {"AAPL", "SPX"}
    assert all(
        set(r) == {"trade_date", "slot", "symbol", "reference_price", "ingest_id"} for r in refs
    )
    assert all(r["reference_price"] > 0 for r in refs)
    log_lines = (
        (layout.task_log_dir("snapshot") / "snapshot_20261118.jsonl").read_text().splitlines()
    )
    assert json.loads(log_lines[-1])["event"] == "finish"
    assert layout.contract_cache_file("AAPL", SIM_DAY).is_file()


async def test_same_slot_twice_gives_the_same_rows(tmp_path: Path) -> None:
    async with running_sim(sim_config()) as sim:
        cfg = write_config(tmp_path, sim.port, ["AAPL"])
        first = await run_snapshot(cfg, SIM_DAY, "11:00", progress=False)
        table1 = read_view(cfg, "intraday", SIM_DAY)
        second = await run_snapshot(cfg, SIM_DAY, "11:00", progress=False)
        table2 = read_view(cfg, "intraday", SIM_DAY)
    assert first.status == second.status == "ok"
    assert table1.num_rows == table2.num_rows
    assert table1.column("conid").to_pylist() == table2.column("conid").to_pylist()
    assert_unique_keys(table2)
    parts = LedgerReader(Layout.from_config(cfg).ledger).partitions_for_date(SIM_DAY)
    assert len(parts) == 1


async def test_no_permission_falls_back_to_delayed(tmp_path: Path) -> None:
    faults = FaultConfig(no_permission_symbols=("MSFT",))
    async with running_sim(sim_config(faults=faults)) as sim:
        cfg = write_config(tmp_path, sim.port, ["AAPL", "MSFT"])
        result = await run_snapshot(cfg, SIM_DAY, "11:00", progress=False)
    assert result.status == "ok", result.message
    rows = read_view(cfg, "intraday", SIM_DAY).to_pylist()
    msft = [r for r in rows if r["underlying"] == "MSFT"]
    aapl = [r for r in rows if r["underlying"] == "AAPL"]
    assert msft and aapl
    assert all(r["delayed_fallback"] and r["market_data_type"] == 3 for r in msft)
    assert all(S.FLAG_DELAYED in r["data_quality_flags"] for r in msft)
    assert all(not r["delayed_fallback"] and r["market_data_type"] == 1 for r in aapl)
    parts = LedgerReader(Layout.from_config(cfg).ledger).partitions_for_date(SIM_DAY)
    assert {p["underlying"]: p["delayed_rows"] for p in parts} == {"AAPL": 0, "MSFT": len(msft)}


async def test_no_permission_without_fallback_is_a_clear_failure(tmp_path: Path) -> None:
    faults = FaultConfig(no_permission_symbols=("MSFT",))
    async with running_sim(sim_config(faults=faults)) as sim:
        # Without a cache, discovery cannot even price the underlying: a clear failure.
        cfg = write_config(tmp_path, sim.port, ["MSFT"], allow_delayed="false")
        no_cache = await run_snapshot(cfg, SIM_DAY, "11:00", progress=False)
        assert (
            no_cache.status == "failed" and "allow_fallback_to_delayed is off" in no_cache.message
        )
        assert read_view(cfg, "intraday", SIM_DAY).num_rows == 0
        # The day's cache built with delayed data allowed, then a snapshot with it off.
        allowed = write_config(tmp_path, sim.port, ["MSFT"], allow_delayed="true")
        assert (await precheck_contract_cache(allowed, SIM_DAY, None)) == {
            "MSFT": "rebuilt (missing)"
        }
        cfg = write_config(tmp_path, sim.port, ["MSFT"], allow_delayed="false")
        result = await run_snapshot(cfg, SIM_DAY, "11:00", progress=False)
    assert result.status == "failed"
    assert "allow_fallback_to_delayed is off" in result.message
    rows = read_view(cfg, "intraday", SIM_DAY).to_pylist()
    assert rows and all(S.FLAG_NO_PERMISSION in r["data_quality_flags"] for r in rows)
    assert all(r["bid"] is None and r["missing_reason"] == "no_permission" for r in rows)


async def test_sporadic_pacing_errors_cost_short_pauses_not_the_slot(tmp_path: Path) -> None:
    faults = FaultConfig(pacing_error_rate=0.2)  # one request in five refused, at random
    async with running_sim(sim_config(faults=faults)) as sim:
        cfg = write_config(tmp_path, sim.port, ["AAPL"], backoff="[30.0, 60.0]")
        result = await run_snapshot(cfg, SIM_DAY, "11:00", progress=False)
    assert result.status == "ok", result.message
    assert result.details["pacing_events"] > 0 and result.details["not_collected"] == 0
    assert missed_slots(Layout.from_config(cfg), SIM_DAY) == []
    assert "ERROR" not in (
        Layout.from_config(cfg).errors_log(SIM_DAY).read_text()
        if Layout.from_config(cfg).errors_log(SIM_DAY).is_file()
        else ""
    )


async def retry_missed_aapl_1100(tmp_path: Path) -> tuple[AppConfig, JobResult]:
    """`--retry-missed` of AAPL's 11:00 slot against a healthy simulator; it must end ok."""
    async with running_sim(sim_config()) as sim:
        prime_sim(sim, ["AAPL"])
        cfg = write_config(tmp_path, sim.port, ["AAPL"])
        retry = await run_snapshot(
            cfg, SIM_DAY, "11:00", overrides={"retry_missed": True}, progress=False
        )
    assert retry.status == "ok", retry.message
    return cfg, retry


async def test_pacing_backoff_then_retry_queue_then_retry_missed(tmp_path: Path) -> None:
    async with running_sim(sim_config()) as sim:  # the day's cache, before pacing starts
        await precheck_contract_cache(write_config(tmp_path, sim.port, ["AAPL"]), SIM_DAY, None)
    faults = FaultConfig(pacing_error_rate=1.0)  # pacing that persists
    async with running_sim(sim_config(faults=faults)) as sim:
        prime_sim(sim, ["AAPL"])
        cfg = write_config(tmp_path, sim.port, ["AAPL"], backoff="[0.1, 0.1]")
        result = await run_snapshot(cfg, SIM_DAY, "11:00", progress=False)
    assert result.status == "partial", result.message
    # any short pauses while the share of refusals was still low, then two backoffs, then
    # the slot is given up
    assert result.details["pacing_events"] >= 3
    table = read_view(cfg, "intraday", SIM_DAY)
    flagged = pc.sum(pc.list_value_length(table.column("data_quality_flags"))).as_py()
    assert flagged > 0
    assert any(
        S.FLAG_SLOT_RETRY_EXCEEDED in f for f in table.column("data_quality_flags").to_pylist()
    )
    layout = Layout.from_config(cfg)
    assert missed_slots(layout, SIM_DAY) == ["11:00"]
    cfg, retry = await retry_missed_aapl_1100(tmp_path)
    retry_flags = {S.FLAG_SLOT_RETRY_EXCEEDED, S.FLAG_MISSING_QUOTE, S.FLAG_TIMEOUT}
    lacking = sum(1 for f in table.column("data_quality_flags").to_pylist() if retry_flags & set(f))
    assert retry.total == lacking  # only what the slot lacked
    after = read_view(cfg, "intraday", SIM_DAY)
    assert after.num_rows == table.num_rows
    assert_unique_keys(after)
    assert not any(
        S.FLAG_SLOT_RETRY_EXCEEDED in f for f in after.column("data_quality_flags").to_pylist()
    )
    assert missed_slots(layout, SIM_DAY) == []


async def test_disconnect_mid_slot_reconnects_and_resumes(tmp_path: Path) -> None:
    faults = FaultConfig(disconnect_after_messages=60)
    async with running_sim(sim_config(faults=faults)) as sim:
        cfg = write_config(tmp_path, sim.port, ["AAPL", "MSFT"])
        result = await run_snapshot(cfg, SIM_DAY, "11:00", progress=False)
        connections = sim.stats.connections
    assert result.status == "ok", result.message
    assert result.details["reconnects"] >= 1 and connections >= 2
    table = read_view(cfg, "intraday", SIM_DAY)
    assert table.num_rows == result.total
    assert_unique_keys(table)


async def test_retry_missed_after_compaction_collects_only_what_the_slot_lacks(
    tmp_path: Path,
) -> None:
    """Was: once the day was compacted, --retry-missed found no slot file, collected every
    contract again and replaced the slot's good rows with quotes of another moment."""
    from collector.ops.maintenance.compaction import compact_day

    async with running_sim(sim_config()) as sim:
        prime_sim(sim, ["AAPL"])
        cfg = write_config(tmp_path, sim.port, ["AAPL"])
        first = await run_snapshot(cfg, SIM_DAY, "11:00", progress=False)
    assert first.status in ("ok", "partial"), first.message
    layout = Layout.from_config(cfg)
    assert compact_day(layout, SIM_DAY, compression_level=3)  # the slot now lives in compacted
    assert not layout.chain_file("intraday", SIM_DAY, "AAPL", "11:00").exists()
    before = read_view(cfg, "intraday", SIM_DAY)
    retry_flags = {S.FLAG_SLOT_RETRY_EXCEEDED, S.FLAG_MISSING_QUOTE, S.FLAG_TIMEOUT}
    flags = before.column("data_quality_flags").to_pylist()
    good = {c for c, f in zip(before.column("conid").to_pylist(), flags, strict=True)
            if not retry_flags & set(f)}  # fmt: skip
    assert good
    cfg, retry = await retry_missed_aapl_1100(tmp_path)
    assert retry.total == before.num_rows - len(good)  # only what the slot lacked
    after = read_view(cfg, "intraday", SIM_DAY)
    assert after.num_rows == before.num_rows
    assert_unique_keys(after)
    ingest = dict(zip(after.column("conid").to_pylist(), after.column("ingest_id").to_pylist(),
                      strict=True))  # fmt: skip
    assert {ingest[c] for c in good} == {first.run_id}  # the good rows are the first run's
