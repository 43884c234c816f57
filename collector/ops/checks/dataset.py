"""Reading a day's stored data for QA: the partition files of one view and date as one frame."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl

from shared.config import AppConfig
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


def read_view(layout: Layout, view: str, trade_date: date, columns: list[str]) -> pl.DataFrame:
    """The chosen columns of every file of `view` on `trade_date` (empty frame when none)."""
    files = partition_files(layout.date_dir(view, trade_date))
    if not files:
        return pl.DataFrame({c: [] for c in columns})
    frames = [pl.read_parquet(f, columns=columns, hive_partitioning=False) for f in files]
    return pl.concat(frames, how="vertical_relaxed")


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
