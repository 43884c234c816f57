"""The whole chain against the simulator: discovery -> every slot of one session ->
close-snapshot -> rollup -> next-day enrichment -> history, asserted on the Parquet."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from collector.gateway_sim import FaultConfig
from collector.pipeline.jobs.close import run_close_snapshot
from collector.pipeline.jobs.enrichment import run_enrichment
from collector.pipeline.jobs.history import run_history
from collector.pipeline.jobs.precheck import precheck_contract_cache
from collector.pipeline.jobs.rollup import run_rollup
from collector.pipeline.jobs.snapshot import run_snapshot
from collector.pipeline.store import HISTORY_VIEW
from shared import schema as S
from shared.calendar import ET, get_session, next_session, slot_datetime
from shared.ledger import LedgerReader
from shared.storage import Layout
from tests.support.pipeline import SIM_DAY, read_view, running_sim, sim_config, write_config

pytestmark = pytest.mark.slow


def unique(table, *cols: str) -> bool:  # type: ignore[no-untyped-def]
    keys = list(zip(*(table.column(c).to_pylist() for c in cols), strict=True))
    return len(keys) == len(set(keys))


async def test_one_session_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    session = get_session(SIM_DAY)
    assert session is not None
    slots = session.slots()
    faults = FaultConfig(missing_greeks_fraction=0.2, no_permission_symbols=("MSFT",))
    async with running_sim(
        sim_config(clock_start=datetime(2026, 11, 18, 9, 25, tzinfo=ET), faults=faults)
    ) as sim:
        cfg = write_config(tmp_path, sim.port, ["AAPL", "MSFT"], strikes=1, timeout=0.5)
        layout = Layout.from_config(cfg)

        # Discovery before the open.
        status = await precheck_contract_cache(cfg, SIM_DAY, None)
        assert status == {"AAPL": "rebuilt (missing)", "MSFT": "rebuilt (missing)"}

        # Every slot; MSFT's 15:30 slot goes missing.
        for slot in slots:
            sim.clock.set(slot_datetime(SIM_DAY, slot))
            symbols = "AAPL" if slot == "15:30" else None
            result = await run_snapshot(cfg, SIM_DAY, slot, symbols, progress=False)
            assert result.status == "ok", (slot, result.message)

        # Close snapshot after the close (AAPL only: MSFT's close view goes missing).
        sim.clock.set(datetime(2026, 11, 18, 17, 30, tzinfo=ET))
        close = await run_close_snapshot(cfg, SIM_DAY, "AAPL")
        assert close.status == "ok", close.message

        rollup = run_rollup(cfg, SIM_DAY)
        assert rollup.status == "partial" and rollup.details["missing_close"] == ["MSFT"]

        # Next session day: open interest as of the trade date.
        nxt = next_session(SIM_DAY)
        sim.clock.set(
            datetime.combine(nxt.trade_date, datetime.min.time(), ET).replace(hour=9, minute=35)
        )
        # MSFT has no live permission: its OI stays missing (enrichment needs live data),
        # and after three consecutive failed runs its rows are flagged.
        capsys.readouterr()
        runs = [await run_enrichment(cfg, SIM_DAY) for _ in range(3)]
        assert [r.status for r in runs] == ["partial", "failed", "failed"]
        # a universe's OI takes minutes at IB's pace: it reports done/total as it goes
        shown = [x for x in capsys.readouterr().err.splitlines() if " progress enrichment " in x]
        assert shown and shown[0].split(": ", 1)[1].startswith(f"{runs[0].total}/{runs[0].total} ")
        assert runs[0].succeeded == runs[0].total - runs[1].total  # AAPL filled once, not again
        assert runs[1].succeeded == runs[2].succeeded == 0

        history = await run_history(cfg, "AAPL", 10)
        assert history.status == "ok", history.message

    # --- intraday: one file per symbol and slot, keys unique, greeks or flags ---------------
    intraday = read_view(cfg, "intraday", SIM_DAY)
    assert intraday.schema == S.SNAPSHOT_SCHEMA
    assert unique(intraday, "trade_date", "sample_time", "conid")
    assert set(intraday.column("slot").to_pylist()) == set(slots)
    rows = intraday.to_pylist()
    for r in rows:
        flags = r["data_quality_flags"]
        if S.FLAG_GREEKS_SENTINEL in flags:
            assert (
                r["iv"] is None and r["vega"] is None and r["theta"] is None and r["gamma"] is None
            )
        elif S.FLAG_MISSING_GREEKS not in flags:
            assert r["iv"] > 0 and r["vega"] >= 0 and r["gamma"] >= 0 and -1 <= r["delta"] <= 1
    assert any(S.FLAG_GREEKS_SENTINEL in r["data_quality_flags"] for r in rows)
    assert sum(S.FLAG_MISSING_GREEKS not in r["data_quality_flags"] for r in rows) > len(rows) / 2
    msft = [r for r in rows if r["underlying"] == "MSFT"]
    aapl = [r for r in rows if r["underlying"] == "AAPL"]
    # Delayed data lags 15 min: at 09:30 it is still the previous close (delayed-frozen, 4).
    assert msft and all(r["delayed_fallback"] for r in msft)
    assert {r["slot"]: r["market_data_type"] for r in msft}["09:30"] == 4
    assert all(r["market_data_type"] == 3 for r in msft if r["slot"] not in ("09:30", "16:00"))
    assert all(S.FLAG_DELAYED in r["data_quality_flags"] for r in msft)
    # Live during the session; the 16:00 slot is at the close, where IB sends frozen (2).
    assert all(not r["delayed_fallback"] for r in aapl)
    assert {r["market_data_type"] for r in aapl if r["slot"] != "16:00"} == {1}
    assert {r["market_data_type"] for r in aapl if r["slot"] == "16:00"} == {2}
    assert "15:30" not in {r["slot"] for r in msft}

    # --- close: market data type 2 at the session's last slot ------------------------------
    close_t = read_view(cfg, "close", SIM_DAY)
    assert close_t.num_rows > 0 and unique(close_t, "trade_date", "sample_time", "conid")
    assert set(close_t.column("slot").to_pylist()) == {slots[-1]}
    assert set(close_t.column("market_data_type").to_pylist()) == {2}

    # --- daily_clean: one row per contract, strategies, OI as of the trade date -------------
    daily = read_view(cfg, "daily_clean", SIM_DAY)
    assert daily.schema == S.DAILY_CLEAN_SCHEMA
    assert unique(daily, "trade_date", "conid")
    drows = daily.to_pylist()
    by_sym = {sym: [r for r in drows if r["underlying"] == sym] for sym in ("AAPL", "MSFT")}
    good_close = {
        r["conid"]
        for r in close_t.to_pylist()
        if S.FLAG_MISSING_QUOTE not in r["data_quality_flags"]
    }
    for r in by_sym["AAPL"]:
        if r["conid"] in good_close:
            assert (r["rollup_strategy"], r["rollup_source_slot"]) == ("close", slots[-1])
    # MSFT: no close view and no 15:30 slot -> the last good intraday slot (16:00).
    assert by_sym["MSFT"] and all(
        (r["rollup_strategy"], r["rollup_source_slot"]) == ("last_good", "16:00")
        for r in by_sym["MSFT"]
    )
    assert all(r["rollup_source_time"] is not None for r in drows)
    for r in by_sym["AAPL"]:
        assert r["oi_asof_date"] == SIM_DAY and r["open_interest"] is not None
        assert S.FLAG_MISSING_OI not in r["data_quality_flags"]
    for r in by_sym["MSFT"]:
        assert r["oi_asof_date"] is None and r["open_interest"] is None
        assert {S.FLAG_MISSING_OI, S.FLAG_OI_ENRICHMENT_FAILED} <= set(r["data_quality_flags"])
    # The OI seen during the session was as of the previous day: enrichment's differs.
    intraday_oi = {r["conid"]: r["open_interest"] for r in aapl if r["slot"] == "16:00"}
    changed = sum(
        1 for r in by_sym["AAPL"] if intraday_oi.get(r["conid"]) not in (None, r["open_interest"])
    )
    assert changed > len(by_sym["AAPL"]) / 2

    # --- history: daily bars from 8-hour bars ------------------------------------------------
    hist = pq.read_table(Layout.from_config(cfg).history_file("AAPL"))
    assert hist.schema == S.HISTORY_SCHEMA
    bar_dates: list[date] = hist.column("bar_date").to_pylist()
    assert len(bar_dates) == len(set(bar_dates)) >= 5
    assert max(bar_dates) <= nxt.trade_date
    assert all(get_session(d) is not None for d in bar_dates)

    # --- ledger: one partitions row per file -------------------------------------------------
    reader = LedgerReader(layout.ledger)
    parts = reader.partitions_for_date(SIM_DAY)
    files = [p for p in layout.data.rglob("*.parquet") if "history" not in p.parts[-4]]
    chain_files = [p for p in files if "chain" in p.parts]
    assert len([p for p in parts if p["view"] != HISTORY_VIEW]) == len(chain_files)
    assert not [p for p in layout.data.rglob("*") if p.name.endswith(".tmp")]
