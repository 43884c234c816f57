"""Storage layout and atomic writes.

Partition paths are built from validated parts only, so no argument can point outside the
data root. Every write goes to `*.tmp` in the target directory, is fsynced, then renamed
over the target with os.replace: a reader sees the old file or the new one, never half.
Many files at once (a job's hundreds of files): shared.atomic_batch, one disk flush for all.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shared.calendar import slot_file_label
from shared.config import AppConfig
from shared.ledger.location import LedgerLocation, LedgerURL

CHAIN_VIEWS = ("intraday", "close", "daily_clean")
RAW_VIEWS = ("intraday", "close")
STREAMING_VIEW = (
    "streaming"  # the ledger's partitions.view of streaming: a row per underlying and day
)
COMPACTED_FILE = "compacted.parquet"  # see docs/ops-runbook.md, "Compaction"
if TYPE_CHECKING:  # pyarrow is imported by the writer only: readers such as the MCP
    import pyarrow as pa  # server start without it (see docs/benchmarks.md, start-up)

    from shared.datafs import DataPath

SYMBOL_RE = re.compile(r"^[A-Z][A-Z0-9.\-]{0,9}$")


def check_symbol(symbol: str) -> str:
    """Upper-case a ticker and refuse anything that is not a plain symbol (no path tricks)."""
    sym = symbol.strip().upper()
    if not SYMBOL_RE.match(sym):
        raise ValueError(f"invalid symbol {symbol!r}: expected 1-10 of A-Z, 0-9, '.', '-'")
    return sym


def check_view(view: str) -> str:
    if view not in CHAIN_VIEWS:
        raise ValueError(f"unknown view {view!r}: expected one of {', '.join(CHAIN_VIEWS)}")
    return view


@dataclass(frozen=True)
class Layout:
    """Every path the collector writes, resolved from one config."""

    data: DataPath  # the Parquet tree: a local Path or an object-store UPath (shared.datafs)
    raw: DataPath
    clean: DataPath
    state: Path
    contracts_cache: Path
    run_logs: Path
    ledger_url: LedgerURL | None = None  # a shared (Postgres) ledger instead of the file

    @classmethod
    def from_config(cls, cfg: AppConfig) -> Layout:
        p = cfg.paths
        assert p.raw and p.clean and p.contracts_cache and p.run_logs, "config paths not resolved"
        url = cfg.ledger.url.get_secret_value().strip() if cfg.ledger.url else ""
        from shared.datafs import data_root

        return cls(
            data_root(p.data),
            data_root(p.raw),
            data_root(p.clean),
            p.state,
            p.contracts_cache,
            p.run_logs,
            LedgerURL(url) if url else None,
        )

    # --- Parquet partitions -------------------------------------------------------------
    def view_root(self, view: str) -> DataPath:
        check_view(view)
        base = self.clean if view == "daily_clean" else self.raw
        return base / "ib" / "chain" / f"view={view}"

    def date_dir(self, view: str, trade_date: date) -> DataPath:
        return self.view_root(view) / f"date={trade_date.isoformat()}"

    def underlying_dir(self, view: str, trade_date: date, symbol: str) -> DataPath:
        return self.date_dir(view, trade_date) / f"underlying={check_symbol(symbol)}"

    def chain_file(
        self, view: str, trade_date: date, symbol: str, slot: str | None = None
    ) -> DataPath:
        """raw views: slot=HHMM.parquet; daily_clean: part.parquet."""
        d = self.underlying_dir(view, trade_date, symbol)
        if view == "daily_clean":
            return d / "part.parquet"
        if slot is None:
            raise ValueError(f"view {view} needs a slot")
        return d / f"slot={slot_file_label(slot)}.parquet"

    def compacted_file(self, view: str, trade_date: date, symbol: str) -> DataPath:
        """Where weekly compaction merges a raw view's slot files (all slots, `slot` column)."""
        return self.underlying_dir(view, trade_date, symbol) / COMPACTED_FILE

    def history_file(self, symbol: str, bar: str = "1d") -> DataPath:
        return (
            self.clean
            / "ib"
            / "history"
            / f"bar={bar}"
            / f"underlying={check_symbol(symbol)}"
            / "part.parquet"
        )

    def streaming_dir(self, trade_date: date, symbol: str) -> DataPath:
        return (
            self.raw
            / "ib"
            / "streaming"
            / f"date={trade_date.isoformat()}"
            / f"underlying={check_symbol(symbol)}"
        )

    # --- State ----------------------------------------------------------------------------
    @property
    def ledger(self) -> LedgerLocation:
        """The SQLite file under state/, or the shared ledger's URL (password hidden)."""
        return self.ledger_url or self.state / "ledger.sqlite"

    def contract_cache_file(self, symbol: str, trade_date: date) -> Path:
        return self.contracts_cache / f"{check_symbol(symbol)}_{trade_date.isoformat()}.json"

    def task_log_dir(self, task: str) -> Path:
        return self.run_logs / task

    def errors_log(self, day: date) -> Path:
        return self.run_logs / "errors" / f"errors_{day:%Y%m%d}.log"

    def errors_summary(self, day: date) -> Path:
        return self.run_logs / "errors" / f"summary_{day:%Y%m%d}.json"

    def selfcheck_dir(self) -> Path:
        return self.run_logs / "selfcheck"

    def metrics_file(self, day: date) -> Path:
        return self.run_logs / "metrics" / f"metrics_{day:%Y%m%d}.json"

    def reference_prices_file(self, day: date) -> Path:
        return self.run_logs / "reference_prices" / f"reference_prices_{day:%Y%m%d}.jsonl"

    def run_locks(self) -> Path:
        return self.state / "run_locks"

    def as_dict(self) -> dict[str, str]:
        return {
            "data": str(self.data),
            "raw": str(self.raw),
            "clean": str(self.clean),
            "state": str(self.state),
            "contracts_cache": str(self.contracts_cache),
            "run_logs": str(self.run_logs),
            "ledger": str(self.ledger),
            "intraday": str(self.view_root("intraday")),
            "close": str(self.view_root("close")),
            "daily_clean": str(self.view_root("daily_clean")),
        }


# --- Atomic writes -----------------------------------------------------------------------
def fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, payload: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


# Columns that keep min/max statistics (what readers filter on); the others would only
# grow the footer, which dominates a slot file of a few hundred rows.
STATISTICS_COLUMNS = (
    "trade_date", "slot", "sample_time", "underlying", "conid", "expiry", "strike", "right",
    "bar_date", "event_time",
)  # fmt: skip


def parquet_options(schema: pa.Schema) -> dict[str, Any]:
    """Encodings chosen by measurement (docs/benchmarks.md, "Storage"): floats in
    BYTE_STREAM_SPLIT (their exponent bytes compress, plain doubles hardly do), dictionary
    only for text (repeated labels; on unique doubles it costs 17%), statistics only on
    the columns readers filter on."""
    import pyarrow as pa

    names = set(schema.names)
    floats = [f.name for f in schema if pa.types.is_floating(f.type)]
    text = [
        f.name
        for f in schema
        if pa.types.is_string(f.type)
        or pa.types.is_large_string(f.type)
        or pa.types.is_list(f.type)
    ]
    return {
        "use_byte_stream_split": floats or False,
        "use_dictionary": text or False,
        "write_statistics": [c for c in STATISTICS_COLUMNS if c in names] or False,
    }


def parquet_write_options(table: pa.Table, compression: str, level: int) -> dict[str, Any]:
    """Every pq.write_table option of a data file (local or object store alike)."""
    comp = None if compression == "none" else compression
    return {
        "compression": comp,
        "compression_level": level if comp == "zstd" else None,
        "row_group_size": max(1, min(table.num_rows, 1_000_000)),
        **parquet_options(table.schema),
    }


def atomic_write_parquet(
    path: Path,
    table: pa.Table,
    compression: str = "zstd",
    level: int = 3,
    *,
    exclusive: bool = False,
) -> int:
    """Write one Parquet file atomically (one row group unless huge); returns its size in bytes.

    exclusive: never replace an existing file; FileExistsError instead (the file is
    published by a hard link, which the kernel refuses on an existing name, so two writers
    choosing the same new name cannot both win)."""
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        pq.write_table(table, tmp, **parquet_write_options(table, compression, level))
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        if exclusive:
            os.link(tmp, path)
            os.unlink(tmp)
        else:
            os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
    return path.stat().st_size


def append_jsonl(path: Path, record: dict[str, Any]) -> None:
    """Append one JSON line (O_APPEND: concurrent writers never interleave within a line)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(record, sort_keys=True, default=str) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def leftover_tmp_files(root: DataPath) -> Iterator[Path]:
    """Temp files a crashed writer left behind (the next run and selfcheck remove them).
    An object-store root has none: its files are single PUTs."""
    if isinstance(root, Path) and root.exists():
        yield from root.rglob("*.tmp")
