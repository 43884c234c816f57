"""Job behaviours around the edges: dry run, cache precheck, early close, crashes."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from collector.pipeline.errors import CacheMissing, InputError
from collector.pipeline.jobs.close import run_close_snapshot
from collector.pipeline.jobs.precheck import precheck_contract_cache
from collector.pipeline.jobs.rollup import run_rollup
from collector.pipeline.jobs.snapshot import run_snapshot
from shared.ledger import LedgerReader
from shared.storage import Layout
from tests.support.pipeline import SIM_DAY, all_files, running_sim, sim_config, write_config

EARLY_CLOSE = date(2026, 11, 27)  # the day after Thanksgiving: 13:00 close


async def test_dry_run_plans_offline_and_writes_nothing(tmp_path: Path) -> None:
    down = write_config(tmp_path / "down", 1, ["AAPL", "SPX"])  # nothing listens on port 1
    before = all_files(tmp_path)
    need = await run_snapshot(down, SIM_DAY, "10:30", overrides={"dry_run": True})
    assert all_files(tmp_path) == before  # no ledger, no log, no data
    assert need.status == "ok" and need.total == 0 and need.run_id is None
    assert set(need.details["needs_discovery"]) == {"AAPL", "SPX"}
    assert "AAPL_2026-11-18.json is missing" in need.details["needs_discovery"]["AAPL"]
    async with running_sim(sim_config()) as sim:
        cfg = write_config(tmp_path, sim.port, ["AAPL", "SPX"])
        await precheck_contract_cache(cfg, SIM_DAY, None)  # the day's caches exist now
    before = all_files(tmp_path)
    # the gateway is gone: the plan comes from the caches alone
    result = await run_snapshot(cfg, SIM_DAY, "10:30", overrides={"dry_run": True, "strikes": 1})
    early = await run_close_snapshot(cfg, EARLY_CLOSE, "AAPL", overrides={"dry_run": True})
    assert all_files(tmp_path) == before
    assert result.status == "ok" and result.details["slot"] == "10:30"
    assert set(result.details["contracts"]) == {"AAPL", "SPX"}
    assert (
        0 < result.total < 40 and "contracts from the contract cache" in result.details["plan"][0]
    )
    assert early.details["slot"] == "13:00" and early.details["view"] == "close"
    assert early.details["needs_discovery"]  # no cache for that day


async def test_cache_precheck_rebuild_and_strict_mode(tmp_path: Path) -> None:
    async with running_sim(sim_config()) as sim:
        cfg = write_config(tmp_path, sim.port, ["AAPL"])
        with pytest.raises(CacheMissing, match=r"AAPL_2026-11-18\.json is missing"):
            await precheck_contract_cache(cfg, SIM_DAY, None, rebuild=False)
        strict = await run_close_snapshot(cfg, SIM_DAY, fail_on_missing_cache=True)
        assert strict.status == "failed" and "--fail-on-missing-cache" in strict.message
        assert await precheck_contract_cache(cfg, SIM_DAY, None) == {"AAPL": "rebuilt (missing)"}
        cache = Layout.from_config(cfg).contract_cache_file("AAPL", SIM_DAY)
        cache.write_text("{not json")
        assert await precheck_contract_cache(cfg, SIM_DAY, None) == {"AAPL": "rebuilt (corrupt)"}
        assert await precheck_contract_cache(cfg, SIM_DAY, "AAPL", rebuild=False) == {"AAPL": "ok"}
        close = await run_close_snapshot(cfg, SIM_DAY, fail_on_missing_cache=True, progress=False)
    assert close.status == "ok", close.message
    assert close.details["slot"] == "16:00"


def test_rollup_bad_input_and_crash_goes_to_the_error_log(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, 1, ["AAPL"])
    with pytest.raises(InputError, match="no raw chain data for 2026-11-18"):
        run_rollup(cfg, SIM_DAY)
    with pytest.raises(InputError, match="not an XNYS session"):
        run_rollup(cfg, "2026-11-21")
    layout = Layout.from_config(cfg)
    bad = layout.chain_file("intraday", SIM_DAY, "AAPL", "10:00")
    bad.parent.mkdir(parents=True)
    pq.write_table(pa.table({"not_a_chain_column": [1]}), bad)  # readable, but not our schema
    result = run_rollup(cfg, SIM_DAY)
    assert result.status == "failed"
    logs = list((layout.run_logs / "errors").glob("errors_*.log"))
    assert logs == [layout.errors_log(SIM_DAY)]  # dated by the trade date, not the clock
    text = logs[0].read_text()
    assert "task=rollup" in text and f"ingest_id={result.run_id}" in text and "Traceback" in text
    assert text.count(" ERROR ") == 1  # one record per failure, the stack indented under it
    runs = LedgerReader(layout.ledger).recent_runs(5, task="rollup")
    assert runs[0]["status"] == "failed" and runs[0]["error_summary"]


async def test_history_reports_its_progress_per_symbol(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Was: a universe's history (IB paces it, 60 requests per 10 minutes) ran silent."""
    from collector.pipeline.jobs.history import run_history

    async with running_sim(sim_config()) as sim:
        cfg = write_config(tmp_path, sim.port, ["AAPL", "MSFT"])
        result = await run_history(cfg, None, 5)
    assert result.status == "ok", result.message
    lines = [x for x in capsys.readouterr().err.splitlines() if " progress history " in x]
    assert lines and lines[-1].split(": ", 1)[1].startswith("2/2 symbols, "), lines
