"""The read side's file I/O on a data root that is a local folder or an object store.

A local path keeps the calls it always made (os.scandir, pq.ParquetFile on the path), so a
local root pays nothing for the object store. On an object store (a `upath.UPath` from
shared.datafs) a directory is a common key prefix: listing one is one LIST request, and a
partition file (a few hundred KB) is fetched whole with one GET, then parsed in memory,
instead of a HEAD plus ranged reads per column (the rule of shared.datafs.read_parquet).

An object key has no symlinks and no '..' (S3 keys are literal text), so "inside the
root" there is a prefix test on the key; locally it is the resolved path, as before.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from shared import datafs
from shared.datafs import DataPath

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.parquet as pq


class DirEntry(Protocol):
    """What a listing gives per entry: os.DirEntry locally, RemoteEntry on an object store."""

    @property
    def name(self) -> str: ...

    def is_dir(self) -> bool: ...

    def is_file(self) -> bool: ...


@dataclass(frozen=True)
class RemoteEntry:
    name: str
    directory: bool
    size: int

    def is_dir(self) -> bool:
        return self.directory

    def is_file(self) -> bool:
        return not self.directory


def list_dir(directory: DataPath, max_entries: int) -> tuple[list[DirEntry], bool]:
    """Up to max_entries entries of one directory (not recursive); True when cut short.

    An absent directory is empty. The entry's path is `directory / entry.name`."""
    out: list[DirEntry] = []
    if isinstance(directory, Path):
        try:
            with os.scandir(directory) as it:
                for entry in it:
                    if len(out) >= max_entries:
                        return out, True
                    out.append(entry)
        except (FileNotFoundError, NotADirectoryError):
            return [], False
        return out, False
    try:
        infos = directory.fs.ls(directory.path, detail=True)
    except (FileNotFoundError, NotADirectoryError):
        return [], False
    for info in sorted(infos, key=lambda i: str(i["name"])):
        if len(out) >= max_entries:
            return out, True
        name = str(info["name"]).rstrip("/").rsplit("/", 1)[-1]
        out.append(RemoteEntry(name, info.get("type") == "directory", int(info.get("size") or 0)))
    return out, False


Nested = dict[str, tuple[list[DirEntry], bool]]


def list_two_levels(
    directory: DataPath, folders: str, max_entries: int
) -> tuple[list[DirEntry], Nested, bool]:
    """A directory's entries, and the entries of each of its folders whose name starts with
    `folders` (each listing capped at max_entries, True when cut: the top one's flag).

    Locally a scandir per folder, as before. On an object store one recursive LIST of the
    prefix (1,000 keys a page) instead of one LIST per folder: a date of 500 underlyings
    is one request, not 501."""
    if isinstance(directory, Path):
        top, cut = list_dir(directory, max_entries)
        nested = {
            e.name: list_dir(directory / e.name, max_entries)
            for e in top
            if e.name.startswith(folders) and e.is_dir()
        }
        return top, nested, cut
    try:
        found = directory.fs.find(directory.path, detail=True)
    except (FileNotFoundError, NotADirectoryError):
        return [], {}, False
    base = directory.path.rstrip("/") + "/"
    top_names: dict[str, RemoteEntry] = {}
    inner: dict[str, dict[str, RemoteEntry]] = {}
    for key, info in sorted(found.items()):
        parts = key[len(base) :].split("/")
        size = int(info.get("size") or 0)
        if len(parts) == 1:
            top_names[parts[0]] = RemoteEntry(parts[0], False, size)
            continue
        top_names.setdefault(parts[0], RemoteEntry(parts[0], True, 0))
        name = parts[1]
        entry = RemoteEntry(name, len(parts) > 2, size if len(parts) == 2 else 0)
        inner.setdefault(parts[0], {}).setdefault(name, entry)
    first: list[DirEntry] = [e for e in islice(top_names.values(), max_entries)]
    below: Nested = {}
    for folder, entries in inner.items():
        if folder.startswith(folders):
            listed: list[DirEntry] = [*entries.values()]
            below[folder] = (listed[:max_entries], len(listed) > max_entries)
    return first, below, len(top_names) > max_entries


Fetched = dict[str, "bytes | Exception"]  # object key -> its bytes, or why not


def fetch_many(paths: list[DataPath]) -> Fetched:
    """Object-store files fetched together (s3fs runs the GETs concurrently, 32 at a time by
    default), for a caller about to open them all; local files are not read ahead ({})."""
    remote = [p for p in paths if not isinstance(p, Path)]
    if not remote:
        return {}
    got = remote[0].fs.cat([p.path for p in remote], on_error="return")
    return {p.path: got.get(p.path, FileNotFoundError(str(p))) for p in remote}


def parquet_file(
    path: DataPath, pre_buffer: bool = True, fetched: Fetched | None = None
) -> pq.ParquetFile:
    """One Parquet file opened for reading (footer parsed); OSError when it is absent.
    An object-store file is one GET, or taken from what fetch_many brought."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if isinstance(path, Path):
        return pq.ParquetFile(path, pre_buffer=pre_buffer)
    payload = (fetched or {}).get(path.path)
    if payload is None:
        payload = path.fs.cat_file(path.path)
    if isinstance(payload, Exception):
        raise payload
    return pq.ParquetFile(pa.BufferReader(payload))


def read_table(path: DataPath, columns: list[str] | None = None) -> pa.Table:
    """The given columns of one file (on an object store: one GET, see shared.datafs)."""
    return datafs.read_parquet(path, columns=columns)


def dataset(path: DataPath) -> Any:
    """A pyarrow dataset of one file, for a filtered read."""
    import pyarrow.dataset as ds

    if isinstance(path, Path):
        return ds.dataset(path, format="parquet")
    return ds.dataset(datafs.read_parquet(path))


def size(path: DataPath) -> int:
    """Bytes of one file; FileNotFoundError when it is absent."""
    if isinstance(path, Path):
        return path.stat().st_size
    return int(path.fs.size(path.path))


def is_inside(path: DataPath, root: DataPath) -> bool:
    """Whether `path` stays under `root` (locally through symlinks and '..')."""
    if isinstance(path, Path) and isinstance(root, Path):
        return path.resolve(strict=False).is_relative_to(_resolved_root(root))
    if isinstance(path, Path) or isinstance(root, Path):
        return False
    key, base = path.path, root.path.rstrip("/") + "/"
    parts = key.split("/")
    return path.protocol == root.protocol and key.startswith(base) and ".." not in parts


def relative(path: DataPath, base: DataPath) -> str | None:
    """`path` relative to `base` as a/b/c text, None when it is not under it."""
    if isinstance(path, Path) and isinstance(base, Path):
        return path.relative_to(base).as_posix() if path.is_relative_to(base) else None
    if isinstance(path, Path) or isinstance(base, Path):
        return None
    prefix = base.path.rstrip("/") + "/"
    return path.path[len(prefix) :] if path.path.startswith(prefix) else None


@functools.lru_cache(maxsize=64)
def _resolved_root(root: Path) -> Path:
    """A root's real path, resolved once (the roots are fixed at start-up)."""
    return root.resolve(strict=False)
