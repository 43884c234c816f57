"""The vectorised rollup returns exactly what the row-by-row rollup returned on the same input.

The reference is the previous implementation, kept verbatim in
scripts/bench/rollup_reference.py. Inputs are random but seeded: good and bad close rows,
contracts missing from the close view, repeated rows, the fallback slot present or not,
an earlier daily_clean with and without open interest or with enrichment failures.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from collector.ops.maintenance.compaction import compact_day
from collector.pipeline.rollup import rollup_table
from collector.pipeline.rollup_inputs import list_day, rollup_day
from scripts.bench import rollup_reference as ref
from scripts.bench.scale_session import write_session
from shared import schema as S
from shared.ledger import LedgerReader
from shared.storage import Layout

DAY = date(2026, 11, 18)
SLOTS = ["09:30", "12:00", "15:00", "15:30", "16:00"]


def _row(rng: np.random.Generator, conid: int, slot: str, good: bool) -> dict[str, Any]:
    hh, mm = map(int, slot.split(":"))
    flags = [] if good else [S.FLAG_MISSING_QUOTE]
    if rng.random() < 0.2:
        flags.append(S.FLAG_MISSING_OI)
    if rng.random() < 0.1:
        flags.append(S.FLAG_MISSING_GREEKS)
    return {
        "trade_date": DAY,
        "slot": slot,
        "sample_time": datetime(2026, 11, 18, hh + 5, mm, tzinfo=UTC),
        "ingest_id": f"run-{slot}",
        "underlying": "AAPL",
        "conid": conid,
        "expiry": DAY + timedelta(days=7 * int(conid % 3)),
        "strike": 200.0 + 5 * (conid % 7),
        "right": "C" if conid % 2 else "P",
        "bid": round(float(rng.uniform(0.5, 9)), 2) if good else None,
        "ask": round(float(rng.uniform(9, 12)), 2) if good else None,
        "iv": float(rng.uniform(0.1, 0.9)),
        "open_interest": int(rng.integers(0, 999)) if rng.random() < 0.5 else None,
        "delayed_fallback": bool(rng.random() < 0.1),
        "data_quality_flags": flags,
    }


def _case(seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    conids = list(range(1, int(rng.integers(2, 40))))
    slots = [s for s in SLOTS if rng.random() < 0.8]
    intraday = []
    for slot in slots:
        rows = [_row(rng, c, slot, rng.random() < 0.7) for c in conids if rng.random() < 0.85]
        if rows and rng.random() < 0.3:  # a contract repeated within a slot, bad or good
            rows.append(dict(rows[0], ingest_id="again", data_quality_flags=[S.FLAG_MISSING_QUOTE]))
            rows.append(dict(rows[-2], ingest_id="again-good", data_quality_flags=[]))
        intraday.append(pa.Table.from_pylist(rows, schema=S.SNAPSHOT_SCHEMA))
    close = None
    if rng.random() < 0.85:
        rows = [_row(rng, c, "16:00", rng.random() < 0.6) for c in conids if rng.random() < 0.9]
        if rows and rng.random() < 0.2:
            rows.append(_row(rng, rows[0]["conid"], "16:00", False))
        close = pa.Table.from_pylist(rows, schema=S.SNAPSHOT_SCHEMA)
    previous = None
    if rng.random() < 0.5:
        rows = []
        for c in conids:
            r = _row(rng, c, "16:00", True)
            kind = rng.integers(0, 4)
            r["open_interest"] = int(rng.integers(0, 5000)) if kind in (0, 2) else None
            r["oi_asof_date"] = DAY if kind in (0, 3) else None
            r["rollup_strategy"] = "close"
            if rng.random() < 0.3:
                r["data_quality_flags"] = [S.FLAG_MISSING_OI, S.FLAG_OI_ENRICHMENT_FAILED]
            rows.append(r)
        previous = pa.Table.from_pylist(rows, schema=S.DAILY_CLEAN_SCHEMA)
    return {
        "close": close,
        "intraday": intraday,
        "allow_intraday_fallback": bool(rng.random() < 0.8),
        "fallback_slot": "15:30" if rng.random() < 0.8 else "11:00",
        "previous": previous,
    }


@pytest.mark.parametrize("seed", range(60))
def test_vectorised_rollup_equals_the_reference(seed: int) -> None:
    case = _case(seed)
    expected = ref.rollup_table(**case)
    got = rollup_table(**case)
    assert got.schema == expected.schema
    assert got.to_pylist() == expected.to_pylist()


def test_day_read_equals_the_reference_over_every_file(tmp_path: Path) -> None:
    """The day rollup reads few intraday files, yet returns what reading them all returns."""
    session = write_session(tmp_path, symbols=6, threads=1, no_close_every=4)
    layout = Layout.from_config(session.cfg())
    # a contract the close view lacks, on an underlying that has a close file
    lacking = layout.chain_file("close", session.day, session.symbols[1], session.slots[-1])
    pq.write_table(pq.read_table(lacking).slice(1), lacking)
    recorded = {
        str(r["path"]): int(r["rows"])
        for r in LedgerReader(layout.ledger).partitions_for_date(session.day, "intraday")
    }
    first = None
    for allow in (True, False):
        files = list_day(layout, session.day, session.symbols, with_intraday=allow)
        got = rollup_day(
            files, allow_intraday_fallback=allow, fallback_slot="15:30", recorded_rows=recorded
        )
        first = first or got
        assert got.missing_close == ([session.symbols[3]] if allow else [])
        # fewer than every file: two underlyings need all 14 slots (no close file; a
        # contract the close file lacks), the others their fallback slot's file or fewer
        assert got.files_read < (5 + 6 * 14 if allow else 6)
        expected = []
        for sym in sorted(session.symbols):  # the day's table is in symbol order
            close = files.close.get(sym)
            intraday = [pq.read_table(p) for p in files.intraday.get(sym, [])]
            expected.append(
                ref.rollup_table(
                    pq.read_table(close) if close else None,
                    intraday,
                    allow_intraday_fallback=allow,
                    fallback_slot="15:30",
                )
            )
        want = pa.concat_tables(expected)
        assert got.table.num_rows == want.num_rows
        assert got.table.to_pylist() == want.to_pylist()
    # once the day is compacted (one file per underlying) the rollup picks the same rows
    compact_day(layout, session.day, compression_level=3)
    files = list_day(layout, session.day, session.symbols, with_intraday=True)
    assert all(p[0].name == "compacted.parquet" for p in files.intraday.values())
    again = rollup_day(files, allow_intraday_fallback=True, fallback_slot="15:30",
                       recorded_rows=recorded)  # fmt: skip
    assert again.table.to_pylist() == first.table.to_pylist()


def test_a_corrupt_file_the_rollup_reads_is_moved_aside_and_left_out(tmp_path: Path) -> None:
    """No footer sweep before the read: a corrupt close file is found by the read, moved
    aside and the rollup goes on as if it were not there (its underlying has no close)."""
    session = write_session(tmp_path, symbols=3, threads=1, no_close_every=99)
    layout = Layout.from_config(session.cfg())
    sym = session.symbols[1]
    bad = layout.chain_file("close", session.day, sym, session.slots[-1])
    bad.write_bytes(b"PAR1 not parquet")
    recorded = {
        str(r["path"]): int(r["rows"])
        for r in LedgerReader(layout.ledger).partitions_for_date(session.day, "intraday")
    }
    files = list_day(layout, session.day, session.symbols, with_intraday=True)
    got = rollup_day(files, allow_intraday_fallback=True, fallback_slot="15:30",
                     recorded_rows=recorded)  # fmt: skip
    assert [q.path for q in got.corrupt] == [bad] and not bad.exists()
    assert list(bad.parent.glob(f"{bad.name}.corrupt-*"))  # kept aside, not deleted
    assert got.missing_close == [sym]
    again = rollup_day(
        list_day(layout, session.day, session.symbols, with_intraday=True),
        allow_intraday_fallback=True,
        fallback_slot="15:30",
        recorded_rows=recorded,
    )
    assert again.corrupt == [] and again.table.to_pylist() == got.table.to_pylist()


def test_a_rerun_over_its_own_daily_clean_keeps_open_interest(tmp_path: Path) -> None:
    """The second rollup of a day reads the first one's daily_clean files (for the OI that
    enrichment filled in since) and writes the same rows, OI kept."""
    from collector.pipeline.jobs.rollup import run_rollup

    session = write_session(tmp_path, symbols=3, threads=1, no_close_every=99)
    cfg = session.cfg()
    layout = Layout.from_config(cfg)
    first = run_rollup(cfg, session.day)
    assert first.status == "ok" and first.rows > 0
    sym = session.symbols[0]
    path = layout.chain_file("daily_clean", session.day, sym)
    table = pq.read_table(path)
    enriched = table.set_column(
        table.schema.get_field_index("open_interest"),
        "open_interest",
        pa.array(range(100, 100 + table.num_rows), pa.int64()),
    ).set_column(
        table.schema.get_field_index("oi_asof_date"),
        "oi_asof_date",
        pa.array([session.day] * table.num_rows, pa.date32()),
    )
    pq.write_table(enriched, path)
    second = run_rollup(cfg, session.day)
    assert (second.status, second.rows) == (first.status, first.rows)
    again = pq.read_table(path)
    assert again.column("open_interest").to_pylist() == list(range(100, 100 + table.num_rows))
    assert again.column("conid").to_pylist() == table.column("conid").to_pylist()


def test_a_rerun_after_intraday_retention_keeps_what_the_fallback_found(tmp_path: Path) -> None:
    """Once retention has removed the day's intraday files, a rerun could only rebuild the
    contracts the intraday fallback had filled from their one-sided close quotes: those
    underlyings keep their daily_clean as it was; the others are rebuilt alike."""
    import shutil

    from collector.pipeline.jobs.rollup import run_rollup

    session = write_session(tmp_path, symbols=4, threads=1, no_close_every=99)
    cfg = session.cfg()
    layout = Layout.from_config(cfg)
    # one underlying whose close quotes are all two-sided: built from the close view alone
    close = layout.chain_file("close", session.day, session.symbols[0], session.slots[-1])
    table = pq.read_table(close)
    flags = table.schema.get_field_index("data_quality_flags")
    empty = pa.array([[]] * table.num_rows, table.schema.field(flags).type)
    pq.write_table(table.set_column(flags, "data_quality_flags", empty), close)
    first = run_rollup(cfg, session.day)
    assert first.status == "ok" and first.details["fallback_rows"] > 0
    files = {s: layout.chain_file("daily_clean", session.day, s) for s in session.symbols}
    before = {s: p.read_bytes() for s, p in files.items()}
    used_intraday = sorted(
        s for s, p in files.items()
        if set(pq.read_table(p).column("rollup_strategy").to_pylist()) - {"close"}
    )  # fmt: skip
    assert used_intraday  # the session's bad close rows make the fallback work
    close_only = sorted(set(session.symbols) - set(used_intraday))
    assert close_only == [session.symbols[0]]
    built = pq.read_table(files[close_only[0]])
    pq.write_table(built.slice(0, 0), files[close_only[0]])  # to see it rebuilt
    shutil.rmtree(layout.date_dir("intraday", session.day))
    second = run_rollup(cfg, session.day)
    assert second.status == "ok", second.message
    assert second.details["kept_previous"] == used_intraday
    assert "kept as it was for " + ", ".join(used_intraday) in second.message
    for sym in used_intraday:
        assert files[sym].read_bytes() == before[sym]  # not touched
    assert pq.read_table(files[close_only[0]]).to_pylist() == built.to_pylist()
