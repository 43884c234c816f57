"""The data-tree seam (shared.datafs) on a local disk and on a real S3 server (moto, loopback)."""

from __future__ import annotations

import textwrap
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shared import datafs
from shared.config import ConfigError, load_config
from shared.storage import Layout
from tests.support.s3 import S3Server, list_keys

DAY = date(2026, 11, 27)


def _table(n: int = 3) -> pa.Table:
    return pa.table({"strike": [100.0 + i for i in range(n)], "underlying": ["SPY"] * n})


def _bucket(uri: str) -> str:
    return uri.split("/")[2]


# --- URIs --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("s3:/x", "malformed"),
        ("s3://", "malformed"),
        ("s3:///prefix", "malformed"),
        ("s3:bucket", "malformed"),
        ("ftp://x", "scheme 'ftp' unsupported"),
        ("http://host/data", "scheme 'http' unsupported"),
        ("s3://AKIAX:hunter2@bucket/data", "credentials"),
        ("s3://bucket/data?secret=hunter2", "credentials"),
        ("s3://bucket/a/../b", "'..'"),
    ],
)
def test_bad_uris_are_one_line_errors(text: str, words: str) -> None:
    with pytest.raises(datafs.DataRootError) as err:
        datafs.data_root(text)
    msg = str(err.value)
    assert words in msg and "\n" not in msg
    assert "hunter2" not in msg


def test_a_store_without_its_library_names_the_package() -> None:
    with pytest.raises(datafs.DataRootError, match=r"needs the gcsfs package"):
        datafs.check_uri("gs://bucket/data")


def test_uri_normalised_and_local_paths_stay_pathlib(tmp_path: Path) -> None:
    assert datafs.check_uri(" s3://bucket/a/b/ ") == "s3://bucket/a/b"
    assert datafs.check_uri("s3://bucket") == "s3://bucket"
    assert datafs.data_root(str(tmp_path)) == tmp_path
    assert type(datafs.data_root("data")) is type(tmp_path)  # plain pathlib, no wrapper
    assert datafs.data_root(f"file://{tmp_path}") == tmp_path


# --- Config --------------------------------------------------------------------------------
def _config(tmp_path: Path, paths: str) -> Path:
    cfg = tmp_path / "config" / "opt-data.toml"
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text(
        textwrap.dedent(
            f"""
            [ib]
            host = "127.0.0.1"
            port = 4001
            [paths]
            {paths}
            [universe]
            file = "config/universe.csv"
            """
        )
    )
    return cfg


def test_config_data_uri_derives_raw_and_clean(tmp_path: Path) -> None:
    cfg = load_config(_config(tmp_path, 'data = "s3://bucket/optdata/"'), env={})
    assert cfg.paths.data == "s3://bucket/optdata"
    assert cfg.paths.raw == "s3://bucket/optdata/raw"
    assert cfg.paths.clean == "s3://bucket/optdata/clean"
    assert cfg.paths.state == tmp_path / "state"  # state stays local
    layout = Layout.from_config(cfg)
    assert str(layout.chain_file("close", DAY, "SPY", "16:00")) == (
        "s3://bucket/optdata/raw/ib/chain/view=close/date=2026-11-27/underlying=SPY/slot=1600.parquet"
    )
    assert isinstance(layout.state, Path)


@pytest.mark.parametrize(
    ("paths", "words"),
    [
        ('data = "s3:/x"', "'paths.data'"),
        ('data = "ftp://x"', "unsupported"),
        ('data = "s3://bucket/d"\nstate = "s3://bucket/state"', "must be a local path"),
        ('data = "s3://bucket/d"\naws_secret_access_key = "abc"', "credentials never go"),
        ('data = "s3://bucket/d"\nkey = "abc"', "credentials never go"),
    ],
)
def test_config_refuses_bad_roots_and_credentials(tmp_path: Path, paths: str, words: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(_config(tmp_path, paths), env={})
    msg = str(err.value)
    assert words in msg and "\n" not in msg and "abc" not in msg
    assert not (tmp_path / "s3:").exists()


# --- Local ---------------------------------------------------------------------------------
def test_a_local_root_must_be_a_folder(tmp_path: Path) -> None:
    """A file where the data folder (or a parent of it) should be is refused up front."""
    datafs.probe(tmp_path / "data" / "raw")  # not there yet: the first write creates it
    (tmp_path / "data").write_text("x")
    for root in (tmp_path / "data", tmp_path / "data" / "raw"):
        with pytest.raises(datafs.DataRootError, match=r"data root .* is a file, not a folder"):
            datafs.probe(root)


def test_local_write_read_list_replace(tmp_path: Path) -> None:
    f = tmp_path / "view=close" / "date=2026-11-27" / "part.parquet"
    size = datafs.write_parquet(f, _table(3))
    assert size == f.stat().st_size and datafs.read_parquet(f).num_rows == 3
    datafs.write_parquet(f, _table(5))  # a rerun replaces
    assert datafs.read_parquet(f).num_rows == 5
    assert not list(tmp_path.rglob("*.tmp"))
    (tmp_path / "note.txt").write_text("x")
    entries = datafs.list_files(tmp_path, "*.parquet")
    assert [e.path for e in entries] == [f] and entries[0].size == f.stat().st_size
    assert datafs.list_files(tmp_path / "absent") == []


# --- S3 (a real server through the real client) -------------------------------------------
def test_s3_write_read_list_replace(s3_root: str, s3_srv: S3Server) -> None:
    root = datafs.data_root(s3_root)
    assert not datafs.is_local(root)
    f = (
        root
        / "raw"
        / "ib"
        / "chain"
        / "view=close"
        / "date=2026-11-27"
        / "underlying=SPY"
        / "slot=1600.parquet"
    )
    size = datafs.write_parquet(f, _table(3), "zstd", 3)
    keys = list_keys(s3_srv, _bucket(s3_root))
    key = "data/raw/ib/chain/view=close/date=2026-11-27/underlying=SPY/slot=1600.parquet"
    assert keys == {key: size}  # one object, no tmp object left anywhere
    assert datafs.read_parquet(f).equals(_table(3))
    assert datafs.read_parquet_metadata(f).num_rows == 3
    assert datafs.is_file(f) and datafs.exists(f) and datafs.size(f) == size

    size2 = datafs.write_parquet(f, _table(7))  # rerun replaces the object whole
    assert list_keys(s3_srv, _bucket(s3_root)) == {key: size2}
    assert datafs.read_parquet(f, columns=["strike"]).num_rows == 7

    other = root / "clean" / "x.parquet"
    datafs.write_parquet(other, _table(1))
    datafs.write_bytes(root / "clean" / "note.txt", b"hello")
    entries = datafs.list_files(root, "*.parquet")
    assert [str(e.path) for e in entries] == [str(other), str(f)]
    assert [e.size for e in entries] == [datafs.size(other), size2]
    assert datafs.read_bytes(root / "clean" / "note.txt") == b"hello"
    assert datafs.list_files(root / "absent") == []
    assert str(datafs.path_of(str(f))) == str(f) and datafs.is_file(datafs.path_of(str(f)))
    assert datafs.names(f.parent, "slot=") == ["slot=1600.parquet"]
    assert [str(p) for p in datafs.subdirs(root)] == [f"{s3_root}/clean", f"{s3_root}/raw"]


def test_s3_parquet_matches_local_bytes(s3_root: str, tmp_path: Path) -> None:
    """Same encodings on both roots: the object is byte-for-byte the local file."""
    local = tmp_path / "a.parquet"
    remote = datafs.data_root(s3_root) / "a.parquet"
    datafs.write_parquet(local, _table(4), "zstd", 3)
    datafs.write_parquet(remote, _table(4), "zstd", 3)
    assert datafs.read_bytes(remote) == local.read_bytes()
    assert pq.read_metadata(local).row_group(0).column(0).compression == "ZSTD"


def test_s3_delete_and_move_aside(s3_root: str, s3_srv: S3Server) -> None:
    root = datafs.data_root(s3_root)
    a, b = root / "d" / "a.parquet", root / "d" / "b.parquet"
    datafs.write_bytes(a, b"not parquet")
    datafs.write_bytes(b, b"b")
    target = a.with_name("a.parquet.corrupt-20261130T000000")
    datafs.move(a, target)
    assert set(list_keys(s3_srv, _bucket(s3_root))) == {
        "data/d/a.parquet.corrupt-20261130T000000",
        "data/d/b.parquet",
    }
    assert datafs.delete(b) and not datafs.delete(b)
    with pytest.raises(FileNotFoundError):
        datafs.delete(b, missing_ok=False)
    assert datafs.delete_many([target, b]) == 2  # b is gone already: the store ignores it
    assert list_keys(s3_srv, _bucket(s3_root)) == {}


def test_s3_unreadable_object_raises_what_pyarrow_raises(s3_root: str) -> None:
    f = datafs.data_root(s3_root) / "bad.parquet"
    datafs.write_bytes(f, b"PAR1 not really")
    with pytest.raises((pa.ArrowException, OSError, ValueError)):
        datafs.read_parquet_metadata(f)


def test_s3_layout_round_trip(s3_root: str, tmp_path: Path) -> None:
    cfg = load_config(_config(tmp_path, f'data = "{s3_root}"'), env={})
    layout = Layout.from_config(cfg)
    f = layout.chain_file("daily_clean", DAY, "SPY")
    datafs.write_parquet(f, _table(2))
    found = datafs.list_files(layout.view_root("daily_clean"), "*.parquet")
    assert [str(e.path) for e in found] == [str(f)]
    assert "date=2026-11-27" in f.parts[-3]


def test_s3_tree_reads_in_duckdb_by_uri(s3_root: str) -> None:
    """DuckDB reads the tree by its s3:// URI through the registered client (no httpfs)."""
    import duckdb

    root = datafs.data_root(s3_root)
    for sym, n in (("SPY", 2), ("QQQ", 3)):
        f = root / "clean" / "date=2026-11-27" / f"underlying={sym}" / "part.parquet"
        datafs.write_parquet(f, _table(n).drop_columns(["underlying"]))
    con = duckdb.connect()
    datafs.register_duckdb(con, root)
    datafs.register_duckdb(con, root)  # a second root on the same store is fine
    rows = con.sql(
        f"select underlying, count(*) from read_parquet('{root}/clean/date=*/underlying=*/*.parquet',"
        " hive_partitioning=true) group by 1 order by 1"
    ).fetchall()
    assert rows == [("QQQ", 3), ("SPY", 2)]


def test_a_local_root_never_imports_the_object_store_client(tmp_path: Path) -> None:
    """The local default pays nothing: no fsspec/s3fs/botocore import, plain pathlib paths."""
    import subprocess
    import sys

    cfg = _config(tmp_path, f'data = "{tmp_path / "data"}"')
    code = (
        "import sys\n"
        "import pyarrow as pa\n"
        "from shared import datafs\n"
        "from shared.config import load_config\n"
        "from shared.storage import Layout\n"
        f"layout = Layout.from_config(load_config({str(cfg)!r}, env={{}}))\n"
        "f = layout.history_file('SPY')\n"
        "datafs.write_parquet(f, pa.table({'a': [1]}))\n"
        "assert datafs.read_parquet(f).num_rows == 1 and datafs.list_files(layout.clean)\n"
        "print(','.join(m for m in ('upath', 'fsspec', 's3fs', 'botocore') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == ""
