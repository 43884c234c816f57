"""Storage round trip: every value written is read back equal, by pyarrow, Polars and DuckDB.

Realistic rows (scripts/bench/scale_session.py) go through the collector's writer with its
encodings (BYTE_STREAM_SPLIT floats, dictionary text, float32 model values): a slot file, a
day's slots merged into one file, and the rollup's daily_clean. Quoted prices must come
back bit for bit (exact to the cent); nothing may be lost on the way.
"""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from collector.pipeline.rollup import rollup_table
from scripts.bench.scale_session import underlying_day
from shared import schema as S
from shared.calendar import get_session, session_slots
from shared.storage import atomic_write_parquet

DAY = date(2026, 11, 18)
CENT_PRICES = ("bid", "ask", "last", "close", "und_price", "reference_price")


def _tables() -> dict[str, pa.Table]:
    session = get_session(DAY)
    assert session is not None
    day = underlying_day(3, "AAPL", DAY, list(session_slots(session)))
    slots = [t for view, _, t in day if view == "intraday"]
    close = next(t for view, _, t in day if view == "close")
    merged = pa.concat_tables(slots).sort_by(
        [*S.SORT_KEYS, ("conid", "ascending"), ("slot", "ascending")]
    )
    daily = rollup_table(close, slots, allow_intraday_fallback=True, fallback_slot="15:30")
    return {"slot": slots[0], "day": merged, "daily_clean": daily}


@pytest.mark.parametrize("kind", ["slot", "day", "daily_clean"])
def test_every_value_reads_back_equal(tmp_path: Path, kind: str) -> None:
    table = _tables()[kind]
    assert table.num_rows > 300
    path = tmp_path / "part.parquet"
    atomic_write_parquet(path, table)
    meta = pq.ParquetFile(path).metadata
    encodings = {meta.row_group(0).column(i).path_in_schema: meta.row_group(0).column(i).encodings
                 for i in range(meta.num_columns)}  # fmt: skip
    assert "BYTE_STREAM_SPLIT" in encodings["bid"] and "BYTE_STREAM_SPLIT" in encodings["iv"]

    back = pq.read_table(path)
    assert back.schema == table.schema
    assert back.equals(table)  # every value, null and type

    frame = pl.read_parquet(path)
    assert frame.equals(pl.DataFrame(table))

    con = duckdb.connect()
    stamps = [f.name for f in table.schema if pa.types.is_timestamp(f.type)]
    replace = ", ".join(f"epoch_us({c}) AS {c}" for c in stamps)  # no tz module needed
    rows = con.execute(f"SELECT * REPLACE ({replace}) FROM read_parquet('{path}')").fetchall()
    names = [d[0] for d in con.description]
    assert names == table.schema.names
    want = table.to_pylist()
    assert len(rows) == len(want)
    for got_row, want_row in zip(rows, want, strict=True):
        got = dict(zip(names, got_row, strict=True))
        for name in S.MODEL_FLOAT32:  # DuckDB widens float32 to a Python float exactly
            assert got[name] == want_row[name]
        for name in CENT_PRICES:
            v = got[name]
            assert v == want_row[name]
            assert v is None or math.isclose(v * 100, round(v * 100), abs_tol=1e-6)
        assert got["data_quality_flags"] == want_row["data_quality_flags"]
        assert got["conid"] == want_row["conid"] and got["strike"] == want_row["strike"]
        for c in stamps:
            w = want_row[c]
            assert got[c] == (None if w is None else round(w.timestamp() * 1_000_000))


def test_model_values_are_float32_and_prices_float64() -> None:
    for name in S.MODEL_FLOAT32:
        assert S.SNAPSHOT_SCHEMA.field(name).type == pa.float32()
    for name in (*CENT_PRICES, "mid", "strike"):
        assert S.SNAPSHOT_SCHEMA.field(name).type == pa.float64()


def test_files_of_the_older_float64_schema_still_read_and_conform(tmp_path: Path) -> None:
    table = _tables()["slot"]
    wide = pa.schema(
        [pa.field(f.name, pa.float64()) if f.name in S.MODEL_FLOAT32 else f for f in table.schema]
    )
    old = tmp_path / "old.parquet"
    pq.write_table(table.cast(wide), old, compression="zstd")  # as files were written before
    new = tmp_path / "new.parquet"
    atomic_write_parquet(new, table)
    assert S.conform(pq.read_table(old), S.SNAPSHOT_SCHEMA).equals(table)
    ((count, ivs),) = duckdb.sql(
        f"SELECT count(*), count(iv) FROM read_parquet(['{old}', '{new}'])"
    ).fetchall()
    assert count == 2 * table.num_rows and ivs == 2 * (table.num_rows - table["iv"].null_count)
    merged = pl.concat([pl.read_parquet(old), pl.read_parquet(new)], how="vertical_relaxed")
    assert merged.height == 2 * table.num_rows
