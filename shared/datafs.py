"""The Parquet data tree (raw/ and clean/) on a local disk or an object store.

The data root is a local path (the default) or an object-store URI such as
`s3://bucket/prefix`. Local paths stay plain `pathlib.Path` objects and every local write
goes through shared.storage (tmp + fsync + os.replace), so the local default pays nothing
for the seam. A URI becomes a `upath.UPath` over an fsspec filesystem (s3fs for s3://):
a file is written with one PUT (an object appears whole or not at all, and a rerun
replaces it), and there is no tmp file or rename.

State (locks, the SQLite ledger, contract caches, run logs) never moves here: flock and
os.replace have no object-store equivalent, so `[paths] state` must stay a local path.

Credentials come from the client's standard chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY,
AWS_PROFILE, an instance role), never from the URI or the TOML; an S3-compatible server's
endpoint from AWS_ENDPOINT_URL (or AWS_ENDPOINT_URL_S3), which botocore reads itself.

upath/fsspec are imported only when a URI is used: the local collector and the MCP server
start without them.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from shared.atomic_batch import BatchFailed
from shared.storage import atomic_write_bytes, atomic_write_parquet, parquet_write_options

if TYPE_CHECKING:
    import fsspec
    import pyarrow as pa
    import pyarrow.parquet as pq
    from upath import UPath

DataPath: TypeAlias = "Path | UPath"

# Object stores only: their PUT replaces an object whole. ftp/sftp/http/webdav uploads can
# be seen half-written and are refused. The value is the package fsspec needs for it.
OBJECT_STORES = {
    "s3": "s3fs",
    "s3a": "s3fs",
    "gs": "gcsfs",
    "gcs": "gcsfs",
    "az": "adlfs",
    "abfs": "adlfs",
    "abfss": "adlfs",
}
# A scheme of two or more letters followed by ':' (one letter is a Windows drive).
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]+):")
_BUCKET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]*$")
CREDENTIALS_HINT = (
    "credentials come from the environment (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or "
    "AWS_PROFILE), never from the config"
)


class DataRootError(ValueError):
    """A data root URI that cannot be used; the message is one line for the operator."""


def looks_like_uri(text: str) -> bool:
    """True for `scheme:...` text (so `s3:/x` is refused, never made a local folder `s3:`)."""
    return bool(_SCHEME.match(text.strip()))


def check_uri(text: str) -> str:
    """The normalised URI (no trailing '/'), or DataRootError naming what is wrong.

    Pure string checks plus whether the filesystem's package is installed; nothing is
    imported or contacted, so the config loader can call it.
    """
    uri = text.strip()
    m = _SCHEME.match(uri)
    if not m:
        raise DataRootError(f"data root {text!r} is not a URI")
    scheme = m.group(1).lower()
    if scheme == "file":
        return uri
    if scheme not in OBJECT_STORES:
        known = ", ".join(f"{s}://" for s in ("s3", "gs", "az", "abfs"))
        raise DataRootError(
            f"data root {uri!r}: scheme {scheme!r} unsupported (expected a local path or {known})"
        )
    rest = uri[len(scheme) + 1 :]
    if not rest.startswith("//"):
        raise DataRootError(f"data root {uri!r} is malformed: expected {scheme}://bucket/prefix")
    bucket, _, prefix = rest[2:].partition("/")
    if "@" in bucket or "?" in uri or "#" in uri:
        raise DataRootError(
            f"data root {scheme}://... carries credentials or options: {CREDENTIALS_HINT}"
        )
    if not bucket or not _BUCKET.match(bucket):
        raise DataRootError(f"data root {uri!r} is malformed: expected {scheme}://bucket/prefix")
    if any(part in ("", ".", "..") for part in prefix.rstrip("/").split("/")) and prefix.strip("/"):
        raise DataRootError(f"data root {uri!r} is malformed: empty, '.' or '..' in the prefix")
    package = OBJECT_STORES[scheme]
    if importlib.util.find_spec(package) is None:
        raise DataRootError(
            f"data root {uri!r} needs the {package} package (pip install {package})"
        )
    prefix = prefix.strip("/")
    return f"{scheme}://{bucket}/{prefix}" if prefix else f"{scheme}://{bucket}"


def data_root(value: str | Path | UPath) -> DataPath:
    """A config value (path or URI) as the path object every writer and reader takes."""
    if isinstance(value, Path):
        return value
    if not isinstance(value, str):
        return value  # already a UPath
    if not looks_like_uri(value):
        return Path(value)
    uri = check_uri(value)
    if uri.lower().startswith("file:"):
        return Path(uri.split(":", 1)[1].removeprefix("//"))
    from upath import UPath

    # Listings are not cached: another process (a second collector, the scheduler) writes
    # the same tree, and a cached listing would hide its files from a long-lived reader.
    return UPath(uri, use_listings_cache=False)


def path_of(text: str) -> DataPath:
    """A file name as the ledger or a listing spells it (`/abs/file` or `s3://bucket/key`)
    back as a path object; unlike data_root, no checks (the name came from a checked root)."""
    if not _SCHEME.match(text):
        return Path(text)
    from upath import UPath

    return UPath(text, use_listings_cache=False)


def probe(root: DataPath) -> None:
    """One request to the store before a command starts, so a missing bucket, absent
    credentials or an unreachable endpoint is one line up front (DataRootError), not a
    stack trace halfway through a run. A local root (or its nearest existing parent) must be
    a folder: a file there would let a snapshot spend a slot's IB budget before its first
    write fails, and readers see an empty tree."""
    if isinstance(root, Path):
        there = next((p for p in (root, *root.parents) if p.exists()), None)
        if there is not None and not there.is_dir():
            raise DataRootError(f"data root {root}: {there} is a file, not a folder")
        return
    bucket = root.path.split("/", 1)[0]
    try:
        root.fs.info(bucket)
    except FileNotFoundError:
        raise DataRootError(f"data root {root}: bucket {bucket!r} does not exist") from None
    except PermissionError:
        raise DataRootError(f"data root {root}: access to bucket {bucket!r} denied") from None
    except Exception as exc:  # botocore's NoCredentialsError, EndpointConnectionError, ...
        text = " ".join(str(exc).split())[:160]
        hint = f"; {CREDENTIALS_HINT}" if "credentials" in text.lower() else ""
        raise DataRootError(f"data root {root}: {type(exc).__name__}: {text}{hint}") from None


def is_local(path: DataPath) -> bool:
    return isinstance(path, Path)


def filesystem(path: DataPath) -> fsspec.AbstractFileSystem:
    """The fsspec filesystem of a path (e.g. for duckdb.register_filesystem)."""
    if isinstance(path, Path):
        import fsspec

        return fsspec.filesystem("file")
    return path.fs


def register_duckdb(con: Any, root: DataPath) -> None:
    """Let a DuckDB connection read `root` by its URI (`read_parquet('s3://b/p/**/*.parquet')`).

    DuckDB's own httpfs extension is downloaded at run time, which an offline host cannot
    do; a registered fsspec filesystem serves the same URIs from the installed client.
    Local roots need nothing."""
    if isinstance(root, Path):
        return
    fs = root.fs
    names = {fs.protocol} if isinstance(fs.protocol, str) else set(fs.protocol)
    if not names & set(con.list_filesystems()):  # registering twice is an error
        con.register_filesystem(fs)


def fs_path(path: DataPath) -> str:
    """The path as its filesystem names it: `/abs/file` locally, `bucket/key` on S3."""
    return str(path) if isinstance(path, Path) else path.path


# --- Writes ------------------------------------------------------------------------------
def write_bytes(path: DataPath, payload: bytes) -> None:
    """Replace the file whole: local tmp + fsync + rename, or one PUT."""
    if isinstance(path, Path):
        atomic_write_bytes(path, payload)
        return
    path.fs.pipe_file(path.path, payload)


def write_parquet(
    path: DataPath,
    table: pa.Table,
    compression: str = "zstd",
    level: int = 3,
    *,
    exclusive: bool = False,
) -> int:
    """Write one Parquet file whole (shared.storage's encodings); returns its size in bytes.

    exclusive: never replace an existing file, FileExistsError instead (local: a hard link;
    object store: a conditional PUT, `If-None-Match: *`)."""
    if isinstance(path, Path):
        return atomic_write_parquet(path, table, compression, level, exclusive=exclusive)
    payload = _encode_parquet(table, compression, level)
    # s3fs sends up to 100 MB as one PutObject, larger as a multipart upload: either way
    # the object only becomes visible once complete.
    path.fs.pipe_file(path.path, payload, mode="create" if exclusive else "overwrite")
    return len(payload)


def _encode_parquet(table: pa.Table, compression: str, level: int) -> bytes:
    """A whole Parquet file in memory, with the data files' options (one PUT's payload)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, **parquet_write_options(table, compression, level))
    return bytes(sink.getvalue().to_pybytes())


class ParquetBatch:
    """Many Parquet files written as one batch: all of them or, should one fail to encode,
    none (every target left as it was). `add` from any thread; leaving the `with` block
    without an error publishes them, with an error drops them.

    Local files: shared.atomic_batch (tmp files, one disk flush for the data, the renames,
    one flush for the names). Object store: each file is encoded in memory as it is added
    (compressed, so a batch of hundreds stays small) and nothing is sent until every file
    is encoded; then one PUT per file, a few in flight. A PUT that fails leaves the objects
    sent so far replaced whole and the rest as they were."""

    PUTS_IN_FLIGHT = 4

    def __init__(
        self, compression: str = "zstd", level: int = 3, *, expected_files: int | None = None
    ) -> None:
        from shared.atomic_batch import LocalParquetBatch

        self.compression = compression
        self.level = level
        self._local = LocalParquetBatch(compression, level, expected_files=expected_files)
        self._remote: list[tuple[UPath, bytes]] = []
        self._remote_failed: BaseException | None = None  # the first error, named later

    def add(self, path: DataPath, table: pa.Table) -> int:
        """Encode one file of the batch; its size in bytes."""
        if isinstance(path, Path):
            return self._local.add(path, table)
        if self._remote_failed is not None:
            raise BatchFailed(f"an earlier file of the batch failed: {self._remote_failed}")
        try:
            payload = _encode_parquet(table, self.compression, self.level)
        except BaseException as exc:
            self._remote_failed = self._remote_failed or exc
            raise
        self._remote.append((path, payload))  # list.append is atomic under the GIL
        return len(payload)

    def commit(self) -> None:
        if self._remote_failed is not None:
            self.abort()
            raise BatchFailed(
                f"a file of the batch failed, nothing was replaced: {self._remote_failed}"
            )
        self._local.commit()
        if self._remote:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(self.PUTS_IN_FLIGHT) as pool:
                list(pool.map(lambda item: item[0].fs.pipe_file(item[0].path, item[1]),
                              self._remote))  # fmt: skip
        self._remote.clear()

    def abort(self) -> None:
        self._local.abort()
        self._remote.clear()

    def __enter__(self) -> ParquetBatch:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


def write_parquet_many(
    items: Iterable[tuple[DataPath, pa.Table]],
    compression: str = "zstd",
    level: int = 3,
    *,
    threads: int = 4,
) -> list[int]:
    """Write many Parquet files as one batch (ParquetBatch), encoded `threads` at a time
    (pyarrow releases the GIL); their sizes in bytes, in the order given. Nothing is
    replaced unless every file was encoded."""
    from concurrent.futures import ThreadPoolExecutor

    todo = list(items)
    # The pool closes (every started add done) before the batch commits or aborts.
    with (
        ParquetBatch(compression, level, expected_files=len(todo)) as batch,
        ThreadPoolExecutor(threads) as pool,
    ):
        return list(pool.map(lambda item: batch.add(*item), todo))


# --- Reads -------------------------------------------------------------------------------
def read_bytes(path: DataPath) -> bytes:
    return path.read_bytes()


def read_parquet(path: DataPath, columns: list[str] | None = None, **kwargs: Any) -> pa.Table:
    import pyarrow.parquet as pq

    if isinstance(path, Path):
        return pq.read_table(path, columns=columns, **kwargs)
    import pyarrow as pa

    # One GET of the whole object: a data file is small (KBs to a few MB), and pyarrow's
    # ranged reads through fsspec cost a HEAD and several GETs per file (x5 the time).
    payload = path.fs.cat_file(path.path)
    return pq.read_table(pa.BufferReader(payload), columns=columns, **kwargs)


def read_parquet_metadata(path: DataPath) -> pq.FileMetaData:
    """The footer only (cheap); raises what pyarrow raises for an unreadable file."""
    import pyarrow.parquet as pq

    if isinstance(path, Path):
        return pq.read_metadata(path)
    with path.fs.open(path.path, "rb", block_size=64 * 1024) as fh:  # the footer's tail
        return pq.read_metadata(fh)


@dataclass(frozen=True)
class FileEntry:
    path: DataPath
    size: int


def list_files(root: DataPath, pattern: str = "*") -> list[FileEntry]:
    """Every file under `root` (recursive) whose name matches `pattern`, with its size,
    sorted by path; an absent root is an empty list. One listing call on an object store."""
    if isinstance(root, Path):
        out = []
        for dirpath, _, names in os.walk(root):
            for name in names:
                if fnmatch.fnmatchcase(name, pattern):
                    p = Path(dirpath) / name
                    try:
                        out.append(FileEntry(p, p.stat().st_size))
                    except FileNotFoundError:  # removed while listing
                        continue
        return sorted(out, key=lambda e: str(e.path))
    found = root.fs.find(root.path, detail=True)
    base = root.path.rstrip("/")
    out = []
    for key, info in found.items():
        if info.get("type") != "file" or not fnmatch.fnmatchcase(key.rsplit("/", 1)[-1], pattern):
            continue
        rel = key[len(base) :].lstrip("/")
        out.append(FileEntry(root.joinpath(*rel.split("/")) if rel else root, int(info["size"])))
    return sorted(out, key=lambda e: str(e.path))


def names(directory: DataPath, prefix: str = "", suffix: str = "", dirs: bool = False) -> list[str]:
    """Sorted names of the files (or, with dirs, the folders) directly in `directory` that
    start with `prefix` and end with `suffix`; none when it does not exist. One directory
    read (os.scandir) or one listing call: no stat or HEAD per entry."""
    if isinstance(directory, Path):
        try:
            with os.scandir(directory) as it:
                found = [
                    e.name
                    for e in it
                    if e.name.startswith(prefix) and e.name.endswith(suffix)
                    and (e.is_dir() if dirs else e.is_file())
                ]  # fmt: skip
        except (FileNotFoundError, NotADirectoryError):
            return []
        return sorted(found)
    try:
        infos = directory.fs.ls(directory.path, detail=True)
    except FileNotFoundError:
        return []
    kind = "directory" if dirs else "file"
    out = (i["name"].rstrip("/").rsplit("/", 1)[-1] for i in infos if i.get("type") == kind)
    return sorted(n for n in out if n.startswith(prefix) and n.endswith(suffix))


def subdirs(root: DataPath) -> list[DataPath]:
    """The folders directly under `root` (e.g. its date=... partitions), sorted; an absent
    root has none. On an object store a folder is a common key prefix (one listing call)."""
    return [root / name for name in names(root, dirs=True)]


def exists(path: DataPath) -> bool:
    return path.exists()


def is_file(path: DataPath) -> bool:
    return path.is_file()


def size(path: DataPath) -> int:
    return path.stat().st_size


# --- Removal -----------------------------------------------------------------------------
def delete(path: DataPath, missing_ok: bool = True) -> bool:
    """Remove one file; True when it was there."""
    if isinstance(path, Path):
        try:
            path.unlink()
        except FileNotFoundError:
            if not missing_ok:
                raise
            return False
        return True
    if not path.fs.exists(path.path):
        if not missing_ok:
            raise FileNotFoundError(str(path))
        return False
    path.fs.rm_file(path.path)
    return True


def delete_many(paths: Iterable[DataPath]) -> int:
    """Remove files. Local: returns how many were there. Object store: one batched delete
    (absent keys are ignored by the store), returns how many were asked for."""
    items = list(paths)
    n = sum(delete(p) for p in items if isinstance(p, Path))
    remote = [p for p in items if not isinstance(p, Path)]
    if remote:
        remote[0].fs.rm([p.path for p in remote])
        n += len(remote)
    return n


def move(source: DataPath, target: DataPath) -> None:
    """Move a file aside (quarantine). Local: os.replace (atomic). Object store: copy then
    delete, since there is no rename; a crash in between leaves both copies, never none."""
    if isinstance(source, Path) and isinstance(target, Path):
        os.replace(source, target)
        return
    if isinstance(source, Path) or isinstance(target, Path):
        raise ValueError(f"cannot move {source} to {target}: one local, one remote")
    source.fs.copy(source.path, target.path)
    source.fs.rm_file(source.path)
