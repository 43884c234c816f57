"""The object store as the SQL sandbox sees it: read-only, and only under the data root.

DuckDB reads an object store through a registered fsspec filesystem (its httpfs extension
is downloaded at run time, which an offline host cannot do). Registering the data root's
own filesystem would hand DuckDB its credentials for the whole account: allowed_directories
keeps reads under the root, but a write (COPY ... TO 's3://.../raw/x.parquet') would reach
the bucket. The guard refuses anything but one SELECT; this class is the wall under it:

- every path must lie under one of the allowed prefixes (the views' roots), '..' refused;
- every write, delete, move or mkdir raises PermissionError;
- a glob is one recursive LIST of its fixed prefix, and that listing answers the per-file
  questions DuckDB asks (info, modified, size, the expansion of each listed file), so a
  file costs one GET instead of a LIST per folder level, a HEAD and a GET (measured in
  docs/benchmarks.md).

The listing kept here lives as long as the connection: one query.
"""

from __future__ import annotations

import re
from typing import Any, NoReturn

from fsspec import AbstractFileSystem
from fsspec.utils import glob_translate

MAGIC = re.compile(r"[*?\[]")


class ReadOnlyRoot(AbstractFileSystem):  # type: ignore[misc]
    cachable = False  # one instance per connection: never shared through fsspec's cache

    def __init__(self, inner: AbstractFileSystem, prefixes: list[str]) -> None:
        super().__init__()
        self.inner = inner
        self.protocol = inner.protocol
        self.prefixes = [inner._strip_protocol(p).rstrip("/") + "/" for p in prefixes]
        self.known: dict[str, dict[str, Any]] = {}  # key -> info, from listings
        self.listed: set[str] = set()  # prefixes listed (recursively) into `known`

    # --- the wall ---------------------------------------------------------------------
    def _key(self, path: str) -> str:
        key = str(self.inner._strip_protocol(path))
        if ".." in key.split("/") or not any(key.startswith(p) for p in self.prefixes):
            raise PermissionError(f"{path}: outside the readable data root")
        return key

    def _refuse(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise PermissionError("the SQL sandbox is read-only")

    mkdir = makedirs = rm = rm_file = rmdir = mv = copy = cp_file = _refuse
    put = put_file = pipe = pipe_file = touch = _refuse

    # --- reads ------------------------------------------------------------------------
    def glob(self, path: str, maxdepth: int | None = None, **kwargs: Any) -> Any:
        """One recursive LIST under the pattern's fixed prefix, matched here (fsspec's own
        glob lists every folder level: a LIST per date and per underlying folder); a
        name without wildcards that a listing already gave is answered without a request."""
        key = self._key(path)
        magic = MAGIC.search(key)
        if magic is None:
            info = self.known.get(key)
            found = {key: info} if info is not None else self.inner.glob(key, detail=True)
        else:
            fixed = key[: magic.start()].rsplit("/", 1)[0]
            if fixed not in self.listed:
                self.listed.add(fixed)
                self.known.update(self.inner.find(fixed, detail=True))
            pattern = re.compile(glob_translate(key))
            found = {k: v for k, v in self.known.items() if pattern.match(k)}
        return found if kwargs.get("detail") else sorted(found)

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> Any:
        return self.inner.ls(self._key(path), detail=detail, **kwargs)

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        key = self._key(path)
        return self.known.get(key) or self.inner.info(key, **kwargs)  # type: ignore[no-any-return]

    def modified(self, path: str) -> Any:
        info = self.known.get(self._key(path))
        if info is not None and info.get("LastModified") is not None:
            return info["LastModified"]
        return self.inner.modified(self._key(path))

    def _open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
        if set(mode) - {"r", "b"}:
            self._refuse()
        key = self._key(path)
        info = self.known.get(key)
        if info is None:
            return self.inner._open(key, mode, **kwargs)
        kwargs.setdefault("size", info["size"])
        handle = self.inner._open(key, mode, **kwargs)
        handle._details = info  # s3fs asks for them on the first read: a HEAD saved per file
        return handle
