"""Daily QA metrics: pure functions over Polars frames and ledger rows.

slot coverage   (underlying, slot) pairs with quoted rows / pairs expected (symbols x due slots)
delayed ratio   intraday rows served delayed (delayed_fallback or market_data_type 3/4) / rows
rollup fallback daily_clean rows whose rollup_strategy is not "close" / rows
OI fill rate    daily_clean rows with open_interest / rows
per shard       slot coverage of each shard's symbols when collectors split the universe;
                a shard with pairs due and none covered is named as missing
streaming       which of streaming.underlyings wrote parts that day, per shard when split
                (shared.queries.shards.streaming_coverage, as health reports it)

A metric with nothing to measure is None (the selfcheck treats that as a breach, except
OI while enrichment is not yet due).

Contracts expiring on the trade date are left out of the rollup-fallback and OI ratios
(and counted as `expiring_rows`): after the close they have no two-sided quote to roll up
and no open interest the next morning, so on every expiry Friday they would otherwise
read as failures of the collector.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

import polars as pl

from collector.pipeline.delayed import served_delayed
from shared.ledger import unrepaired_missed
from shared.queries.shards import by_shard
from shared.schema import FLAG_MISSING_QUOTE

MIN_QUOTED_SHARE = 0.5


@dataclass(frozen=True)
class Coverage:
    expected: int
    covered: int
    missing: list[str]  # "SYM@HH:MM"

    @property
    def ratio(self) -> float | None:
        return self.covered / self.expected if self.expected else None


@dataclass(frozen=True)
class ShardCoverage:
    shard: str  # "i/N"
    expected: int
    covered: int

    @property
    def ratio(self) -> float | None:
        return self.covered / self.expected if self.expected else None

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "coverage": self.ratio}


@dataclass(frozen=True)
class Ratio:
    numerator: int
    total: int

    @property
    def ratio(self) -> float | None:
        return self.numerator / self.total if self.total else None


@dataclass(frozen=True)
class DayMetrics:
    trade_date: date
    symbols: list[str]
    slots_due: list[str]
    coverage: Coverage
    delayed: Ratio
    rollup_fallback: Ratio
    oi_fill: Ratio
    oi_due: bool
    intraday_rows: int
    daily_clean_rows: int
    expiring_rows: int = 0
    missed_runs: list[dict[str, Any]] = field(default_factory=list)
    failed_runs: list[dict[str, Any]] = field(default_factory=list)
    corrupt_files: list[str] = field(default_factory=list)  # moved aside while reading
    shards: list[ShardCoverage] = field(default_factory=list)  # empty when not sharded
    streaming: dict[str, Any] | None = None  # None when streaming.underlyings is empty

    @property
    def missing_shards(self) -> list[str]:
        return [s.shard for s in self.shards if s.expected and not s.covered]

    @property
    def missing_streaming_shards(self) -> list[str]:
        """Shards that streamed nothing while another shard did (streaming is in use)."""
        s = self.streaming or {}
        return list(s.get("missing_shards") or []) if s.get("streamed") else []

    def as_json(self) -> dict[str, Any]:
        return {
            "trade_date": self.trade_date.isoformat(),
            "symbols": self.symbols,
            "slots_due": self.slots_due,
            "slot_coverage": self.coverage.ratio,
            "slot_coverage_detail": asdict(self.coverage),
            "delayed_ratio": self.delayed.ratio,
            "delayed_rows": self.delayed.numerator,
            "intraday_rows": self.intraday_rows,
            "rollup_fallback_ratio": self.rollup_fallback.ratio,
            "rollup_fallback_rows": self.rollup_fallback.numerator,
            "daily_clean_rows": self.daily_clean_rows,
            "expiring_rows_excluded": self.expiring_rows,
            "oi_fill_rate": self.oi_fill.ratio,
            "oi_filled_rows": self.oi_fill.numerator,
            "oi_due": self.oi_due,
            "missed_runs": self.missed_runs,
            "failed_runs": self.failed_runs,
            "corrupt_files": self.corrupt_files,
            "shards": [s.as_json() for s in self.shards],
            "missing_shards": self.missing_shards,
            "streaming": self.streaming,
        }


SUMMARY_KEYS = ["underlying", "slot"]
SUMMARY_SCHEMA = pl.Schema(
    {"underlying": pl.String, "slot": pl.String, "rows": pl.Int64, "quoted": pl.Int64,
     "delayed": pl.Int64}
)  # fmt: skip


def summarize_intraday(
    intraday: pl.DataFrame | pl.LazyFrame, flags: bool = True
) -> pl.DataFrame | pl.LazyFrame:
    """Per (underlying, slot): rows, rows with a two-sided quote, rows served delayed.

    Everything QA measures on the intraday view needs only these counts, so a day is
    aggregated while it is read (a lazy scan) instead of held row by row in memory.
    `flags=False`: rows carry no data_quality_flags column and count as quoted.
    """
    quoted = (  # a literal's sum would be 1, not the group's length
        (~pl.col("data_quality_flags").list.contains(FLAG_MISSING_QUOTE).fill_null(False)).sum()
        if flags
        else pl.len()
    )
    return intraday.group_by(SUMMARY_KEYS).agg(
        rows=pl.len().cast(pl.Int64),
        quoted=quoted.cast(pl.Int64),
        delayed=served_delayed().sum().cast(pl.Int64),
    )


def _summary(intraday: pl.DataFrame) -> pl.DataFrame:
    """The summary of raw rows, or the frame itself when it already is one."""
    if "rows" in intraday.columns and "quoted" in intraday.columns:
        return intraday
    if not intraday.height:
        return pl.DataFrame(schema=SUMMARY_SCHEMA)
    out = summarize_intraday(intraday, "data_quality_flags" in intraday.columns)
    assert isinstance(out, pl.DataFrame)
    return out


def slot_coverage(intraday: pl.DataFrame, symbols: list[str], slots: list[str]) -> Coverage:
    """A (symbol, slot) pair is covered when it has rows and at least half of them carry a
    two-sided quote: a file of empty rows (no permission, timeouts) is not coverage."""
    summary = _summary(intraday)
    pairs = summary.filter(
        (pl.col("rows") > 0) & (pl.col("quoted") / pl.col("rows") >= MIN_QUOTED_SHARE)
    )
    present = {(u, s) for u, s in pairs.select(SUMMARY_KEYS).iter_rows()}
    expected = [(sym, slot) for sym in symbols for slot in slots]
    missing = [f"{sym}@{slot}" for sym, slot in expected if (sym, slot) not in present]
    return Coverage(len(expected), len(expected) - len(missing), missing)


def shard_coverage(
    coverage: Coverage, symbols: list[str], slots: list[str], count: int
) -> list[ShardCoverage]:
    """The coverage split by shard (shared.queries.shards.by_shard, which health uses too);
    [] for one shard."""
    gaps = set(coverage.missing)
    written = {(s, slot) for s in symbols for slot in slots if f"{s}@{slot}" not in gaps}
    return [
        ShardCoverage(d["shard"], d["expected_partitions"], d["written"])
        for d in by_shard(count, symbols, slots, written)
    ]


def delayed_ratio(intraday: pl.DataFrame) -> Ratio:
    summary = _summary(intraday)
    return Ratio(int(summary["delayed"].sum() or 0), int(summary["rows"].sum() or 0))


def still_listed(daily_clean: pl.DataFrame, trade_date: date) -> pl.DataFrame:
    """Rows of contracts that outlive the trade date (see the module note)."""
    if not daily_clean.height or "expiry" not in daily_clean.columns:
        return daily_clean
    return daily_clean.filter(pl.col("expiry") > trade_date)


def rollup_fallback_ratio(daily_clean: pl.DataFrame) -> Ratio:
    if not daily_clean.height:
        return Ratio(0, 0)
    fallback = daily_clean.filter(pl.col("rollup_strategy") != "close").height
    return Ratio(fallback, daily_clean.height)


def oi_fill_rate(daily_clean: pl.DataFrame) -> Ratio:
    if not daily_clean.height:
        return Ratio(0, 0)
    return Ratio(
        daily_clean.filter(pl.col("open_interest").is_not_null()).height, daily_clean.height
    )


def runs_with_status(runs: Sequence[Mapping[str, Any]], status: str) -> list[dict[str, Any]]:
    keep = ("run_id", "task", "slot", "status", "error_summary", "started_at")
    return [{k: r.get(k) for k in keep} for r in runs if r.get("status") == status]


def day_metrics(
    trade_date: date,
    symbols: list[str],
    slots_due: list[str],
    intraday: pl.DataFrame,
    daily_clean: pl.DataFrame,
    runs: list[dict[str, Any]],
    *,
    oi_due: bool,
    shard_count: int = 1,
) -> DayMetrics:
    """`intraday`: the view's rows, or their summary (summarize_intraday)."""
    intraday = _summary(intraday)
    day_runs = [r for r in runs if r.get("trade_date") == trade_date.isoformat()]
    listed = still_listed(daily_clean, trade_date)
    coverage = slot_coverage(intraday, symbols, slots_due)
    return DayMetrics(
        trade_date=trade_date,
        symbols=symbols,
        slots_due=slots_due,
        coverage=coverage,
        shards=shard_coverage(coverage, symbols, slots_due, shard_count),
        delayed=delayed_ratio(intraday),
        rollup_fallback=rollup_fallback_ratio(listed),
        oi_fill=oi_fill_rate(listed),
        oi_due=oi_due,
        intraday_rows=int(intraday["rows"].sum() or 0),
        daily_clean_rows=daily_clean.height,
        expiring_rows=daily_clean.height - listed.height,
        missed_runs=runs_with_status(unrepaired_missed(day_runs), "missed"),
        failed_runs=runs_with_status(day_runs, "failed"),
    )
