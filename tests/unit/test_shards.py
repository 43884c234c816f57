"""The shard rule (shared.universe.Shard) and what QA makes of it."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest

from collector.ops.checks.qa import day_metrics
from collector.ops.checks.selfcheck import compute_metrics, judge
from shared.calendar import ET
from shared.config import QAConfig, load_config
from shared.ledger import Ledger, PartitionRecord
from shared.storage import STREAMING_VIEW, Layout
from shared.universe import Shard, shard_count, shard_of
from tests.support.config import tmp_config

SYMBOLS = [f"S{i}" for i in range(2000)]


def test_every_symbol_lands_on_exactly_one_shard_and_the_split_is_even() -> None:
    for count in (1, 2, 4, 7):
        shards = [Shard(i, count) for i in range(1, count + 1)]
        owners = [[s.label for s in shards if s.holds(sym)] for sym in SYMBOLS]
        assert all(len(o) == 1 for o in owners)
        sizes = Counter(o[0] for o in owners)
        mean = len(SYMBOLS) / count
        assert all(abs(n - mean) <= 0.15 * mean for n in sizes.values()), sizes  # binomial noise


def test_the_rule_is_stable_across_processes() -> None:
    # Python's hash() is salted per process; the rule must not be.
    code = "from shared.universe import shard_of; print([shard_of(s, 4) for s in ['AAPL','SPY','QQQ','MSFT']])"
    runs = {
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
        for _ in range(2)
    }
    assert runs == {str([shard_of(s, 4) for s in ["AAPL", "SPY", "QQQ", "MSFT"]]) + "\n"}


@pytest.mark.parametrize("text", ["0/2", "3/2", "1", "a/b", "1/0", ""])
def test_a_bad_shard_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="bad shard"):
        Shard.parse(text)


def test_labels_and_lock_suffixes() -> None:
    assert Shard.parse("2/4").label == "2/4" and Shard.parse("2/4").lock_suffix == "_shard2of4"
    assert Shard().label == "" and Shard().lock_suffix == ""  # unsharded: names as before
    assert shard_count(1, ["", "1/3"]) == 3 and shard_count(2, []) == 2


def test_the_shard_config_section(tmp_path: Path) -> None:
    cfg = load_config(tmp_config(tmp_path, "\n[shard]\nindex = 2\ncount = 3\n"), env={})
    assert Shard.from_config(cfg) == Shard(2, 3)
    with pytest.raises(Exception, match="past count"):
        load_config(tmp_config(tmp_path, "\n[shard]\nindex = 4\ncount = 3\n"), env={})


def test_qa_names_the_shard_that_delivered_nothing() -> None:
    symbols = ["AAPL", "MSFT", "SPY", "QQQ"]
    delivered = [s for s in symbols if shard_of(s, 2) == 1]
    intraday = pl.DataFrame(
        {
            "underlying": delivered,
            "slot": ["09:30"] * len(delivered),
            "delayed_fallback": [False] * len(delivered),
            "market_data_type": [1] * len(delivered),
            "data_quality_flags": [[]] * len(delivered),
        },
        schema_overrides={"data_quality_flags": pl.List(pl.Utf8)},
    )
    m = day_metrics(date(2026, 11, 18), symbols, ["09:30"], intraday, pl.DataFrame(), [],
                    oi_due=False, shard_count=2)  # fmt: skip
    assert m.coverage.ratio == 0.5
    assert [(s.shard, s.ratio) for s in m.shards] == [("1/2", 1.0), ("2/2", 0.0)]
    assert m.missing_shards == ["2/2"] and m.as_json()["missing_shards"] == ["2/2"]
    failed = {c.name: c for c in judge(m, QAConfig(), None, None) if not c.passed}
    assert "no data from shard 2/2" in failed["missing_shards"].note
    unsharded = day_metrics(date(2026, 11, 18), symbols, ["09:30"], intraday, pl.DataFrame(), [],
                            oi_due=False)  # fmt: skip
    assert unsharded.shards == [] and unsharded.missing_shards == []


def test_the_cli_refuses_a_bad_shard_in_one_line(tmp_path: Path) -> None:
    cfg = tmp_config(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "collector.cli.main", "snapshot", "--config", str(cfg),
         "--date", "2026-11-18", "--slot", "10:00", "--shard", "3/2"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.strip() == "opt-data: error: --shard: bad shard 3/2: expected 1 <= i <= N"


def _streamed(cfg_path: Path, day: date, symbols: list[str]) -> None:
    layout = Layout.from_config(load_config(cfg_path, env={}))
    ledger = Ledger(layout.ledger)
    recs = [
        PartitionRecord(STREAMING_VIEW, day, s, "", f"/x/{s}/part-0.parquet", 10, 100)
        for s in symbols
    ]
    ledger.add_streamed(recs, "run-1")


def test_qa_and_selfcheck_name_the_streaming_shard_that_streamed_nothing(tmp_path: Path) -> None:
    """The test config streams SPY and QQQ; split in two, each shard holds one of them."""
    day = date(2026, 11, 18)
    cfg_path = tmp_config(tmp_path, "\n[shard]\nindex = 1\ncount = 2\n")
    cfg = load_config(cfg_path, env={})
    streamers = list(cfg.streaming.underlyings)
    assert sorted(shard_of(s, 2) for s in streamers) == [1, 2], "the fixture needs one per shard"
    mine = [s for s in streamers if shard_of(s, 2) == 1]
    after_start = datetime(2026, 11, 18, 15, 0, tzinfo=ET)

    before = compute_metrics(cfg, day, ["SPY"], now=datetime(2026, 11, 18, 9, 0, tzinfo=ET))
    assert before.streaming is not None and before.streaming["due"] is False

    nothing = compute_metrics(cfg, day, ["SPY"], now=after_start)
    assert nothing.streaming is not None and nothing.streaming["streamed"] == 0
    assert nothing.streaming["missing_shards"] == ["1/2", "2/2"]
    # streaming not in use at all that day: named in the metrics, not a failed check
    assert nothing.missing_streaming_shards == []

    _streamed(cfg_path, day, mine)
    half = compute_metrics(cfg, day, ["SPY"], now=after_start)
    assert half.streaming is not None
    assert half.streaming["streamed"] == 1 and half.streaming["coverage"] == 0.5
    assert half.streaming["missing_shards"] == ["2/2"]
    assert half.as_json()["streaming"]["shards"][0]["written"] == 1
    failed = {c.name: c for c in judge(half, QAConfig(), None, None) if not c.passed}
    assert failed["missing_streaming_shards"].note == "no streaming from shard 2/2"

    _streamed(cfg_path, day, [s for s in streamers if s not in mine])
    full = compute_metrics(cfg, day, ["SPY"], now=after_start)
    assert full.streaming is not None and full.streaming["coverage"] == 1.0
    assert full.missing_streaming_shards == []
    assert "missing_streaming_shards" not in {c.name for c in judge(full, QAConfig(), None, None)}
