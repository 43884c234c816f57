"""Reading a day's stored data for QA: the partition files of one view and date as one frame."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from collector.ops.checks.qa import SUMMARY_KEYS, summarize_intraday
from shared.config import AppConfig
from shared.schema import SNAPSHOT_SCHEMA
from shared.storage import Layout, check_symbol
from shared.universe import universe_symbols


def partition_files(directory: Path) -> list[Path]:
    """Parquet files a reader would see: no temp files, no hidden or in-flight names."""
    if not directory.is_dir():
        return []
    return sorted(
        p
        for p in directory.rglob("*.parquet")
        if not any(part.startswith(".") for part in p.relative_to(directory).parts)
    )


def _scan(files: list[Path], columns: list[str]) -> pl.LazyFrame:
    return pl.scan_parquet([str(f) for f in files], hive_partitioning=False).select(columns)


def read_view(layout: Layout, view: str, trade_date: date, columns: list[str]) -> pl.DataFrame:
    """The chosen columns of every file of `view` on `trade_date` (empty frame when none).

    One multi-file read; files of an older schema (another float width, a column fewer)
    are read one by one instead.
    """
    files = partition_files(layout.date_dir(view, trade_date))
    if not files:
        return pl.DataFrame({c: [] for c in columns})
    try:
        return _scan(files, columns).collect()
    except (pl.exceptions.PolarsError, OSError):
        frames = [pl.read_parquet(f, columns=columns, hive_partitioning=False) for f in files]
        return pl.concat(frames, how="vertical_relaxed")


SNAPSHOT_POLARS = pl.DataFrame(SNAPSHOT_SCHEMA.empty_table()).schema
INTRADAY_QA_COLUMNS = [
    "underlying", "slot", "delayed_fallback", "market_data_type", "data_quality_flags",
]  # fmt: skip


def intraday_summary(layout: Layout, trade_date: date) -> pl.DataFrame:
    """The day's intraday view summarised while it is read (qa.summarize_intraday): one
    streaming multi-file scan, so the rows are never all held in memory."""
    files = partition_files(layout.date_dir("intraday", trade_date))
    if not files:
        empty = pl.DataFrame(schema={c: SNAPSHOT_POLARS[c] for c in INTRADAY_QA_COLUMNS})
        return _collect(summarize_intraday(empty.lazy()))
    try:
        return _collect(summarize_intraday(_scan(files, INTRADAY_QA_COLUMNS)), streaming=True)
    except (pl.exceptions.PolarsError, OSError):
        parts = [
            _collect(summarize_intraday(pl.read_parquet(f, hive_partitioning=False).lazy(),
                                        flags="data_quality_flags" in pq_names(f)))
            for f in files
        ]  # fmt: skip
        return pl.concat(parts, how="vertical_relaxed").group_by(SUMMARY_KEYS).sum()


def pq_names(path: Path) -> list[str]:
    return pq.ParquetFile(path).schema_arrow.names


def _collect(frame: pl.DataFrame | pl.LazyFrame, streaming: bool = False) -> pl.DataFrame:
    if isinstance(frame, pl.DataFrame):
        return frame
    return frame.collect(engine="streaming") if streaming else frame.collect()


def scheduled_symbols(
    cfg: AppConfig, trade_date: date, explicit: list[str] | None = None, every_shard: bool = False
) -> list[str]:
    """Who QA expects data for: explicit symbols, else those with a contract cache for the day
    (the precheck writes one per scheduled symbol), else the intraday universe. With shards,
    the whole universe: each collector's caches may live on its own host."""
    if explicit:
        return sorted({check_symbol(s) for s in explicit})
    if every_shard:
        return sorted(universe_symbols(cfg, "intraday"))
    layout = Layout.from_config(cfg)
    suffix = f"_{trade_date.isoformat()}.json"
    cached = sorted(p.name[: -len(suffix)] for p in layout.contracts_cache.glob(f"*{suffix}"))
    if cached:
        return cached
    return sorted(universe_symbols(cfg, "intraday"))
