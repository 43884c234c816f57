"""The SQL sandbox on an object-store root (real S3 server on loopback): reads under the views'
roots work, and no statement DuckDB runs can write to the bucket or read beside the root,
even one that got past the SELECT-only guard (the guard is bypassed here on purpose)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from mcp_server.sql.remote import ReadOnlyRoot
from mcp_server.sql.sandbox import Sandbox
from shared import datafs
from shared.storage import Layout
from tests.support.s3 import S3Server, list_keys
from tests.support.tables import DAY, daily_rows


def _layout(uri: str, tmp_path: Path) -> Layout:
    root = datafs.data_root(uri)
    state = tmp_path / "state"
    return Layout(root, root / "raw", root / "clean", state, state / "cache", state / "logs")


@pytest.fixture
def layout(s3_root: str, tmp_path: Path) -> Layout:
    lay = _layout(s3_root, tmp_path)
    datafs.write_parquet(lay.chain_file("daily_clean", DAY, "SPY"), daily_rows("SPY", 2))
    datafs.write_bytes(datafs.data_root(s3_root.rsplit("/", 1)[0] + "/beside.csv"), b"a\n1\n")
    return lay


def _locked(layout: Layout) -> duckdb.DuckDBPyConnection:
    sandbox = Sandbox.for_access(layout, allow_raw=True, allow_clean=True)
    con = duckdb.connect(":memory:", config={"autoload_known_extensions": "false"})
    sandbox._lock_down(con, "SELECT * FROM daily_clean")
    return con


def test_a_view_reads_the_bucket(layout: Layout) -> None:
    con = _locked(layout)
    try:
        got = con.sql("SELECT underlying, strike, date FROM daily_clean ORDER BY ALL").fetchall()
    finally:
        con.close()
    assert got == [("SPY", 100.0, DAY), ("SPY", 100.0, DAY)]


@pytest.mark.parametrize(
    "statement",
    [
        "COPY (SELECT 1 AS x) TO '{root}/clean/evil.csv'",
        "COPY (SELECT 1 AS x) TO '{root}/raw/evil.parquet' (FORMAT parquet)",
        "SELECT * FROM read_csv('{bucket}/beside.csv')",
        "SELECT * FROM read_parquet('{root}/clean/../beside.csv')",
        "SELECT * FROM glob('{bucket}/*')",
        "SET lock_configuration = false",
    ],
)
def test_no_write_and_no_read_beside_the_root(
    layout: Layout, s3_srv: S3Server, s3_root: str, statement: str
) -> None:
    bucket = s3_root.rsplit("/", 1)[0]
    before = list_keys(s3_srv, bucket.removeprefix("s3://"))
    con = _locked(layout)
    try:
        with pytest.raises(duckdb.Error):
            con.execute(statement.format(root=s3_root, bucket=bucket)).fetchall()
    finally:
        con.close()
    assert list_keys(s3_srv, bucket.removeprefix("s3://")) == before


def test_the_wrapper_refuses_writes_and_paths_outside(layout: Layout, s3_root: str) -> None:
    root = layout.clean
    assert not isinstance(root, Path)
    fs = ReadOnlyRoot(root.fs, [f"{root}/"])
    key = f"{root}/ib/chain/view=daily_clean/date={DAY}/underlying=SPY/part.parquet"
    assert fs.info(key)["size"] > 0
    with fs.open(key, "rb") as fh:
        assert fh.read(4) == b"PAR1"
    for call in (
        lambda: fs.open(f"{root}/x.parquet", "wb"),
        lambda: fs.rm(key),
        lambda: fs.mv(key, f"{root}/y"),
        lambda: fs.pipe_file(f"{root}/x", b"x"),
        lambda: fs.info(f"{s3_root}/raw/x.parquet"),
        lambda: fs.ls(f"{root}/../raw"),
    ):
        with pytest.raises(PermissionError):
            call()
