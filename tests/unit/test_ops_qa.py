"""QA metrics and selfcheck verdicts over small hand-built tables (and the thresholds' edges)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pyarrow as pa

from collector.ops.checks.qa import (
    day_metrics,
    delayed_ratio,
    oi_fill_rate,
    rollup_fallback_ratio,
    slot_coverage,
)
from collector.ops.checks.selfcheck import judge
from shared.config import QAConfig, load_config
from shared.schema import DAILY_CLEAN_SCHEMA, SNAPSHOT_SCHEMA
from tests.support.tables import DAY, daily_rows, snapshot_rows


def frame(table: pa.Table) -> pl.DataFrame:
    out = pl.from_arrow(table)
    assert isinstance(out, pl.DataFrame)
    return out


def test_slot_coverage_lists_missing_pairs() -> None:
    df = frame(
        pa.concat_tables(
            [
                snapshot_rows("AAPL", "09:30"),
                snapshot_rows("AAPL", "10:00"),
                snapshot_rows("MSFT", "09:30"),
            ]
        )
    )
    cov = slot_coverage(df, ["AAPL", "MSFT"], ["09:30", "10:00"])
    assert (cov.covered, cov.expected, cov.ratio) == (3, 4, 0.75)
    assert cov.missing == ["MSFT@10:00"]
    assert slot_coverage(frame(SNAPSHOT_SCHEMA.empty_table()), ["AAPL"], ["09:30"]).ratio == 0.0
    assert slot_coverage(df, [], []).ratio is None


def test_delayed_fallback_and_oi_ratios() -> None:
    assert delayed_ratio(frame(snapshot_rows("AAPL", "09:30", 10, delayed=1))).ratio == 0.1
    daily = frame(daily_rows("AAPL", 20, fallback=1, missing_oi=2))
    assert rollup_fallback_ratio(daily).ratio == 0.05
    assert oi_fill_rate(daily).ratio == 0.9
    assert oi_fill_rate(frame(DAILY_CLEAN_SCHEMA.empty_table())).ratio is None


def _metrics(
    intraday: pa.Table,
    daily: pa.Table,
    runs: list[dict[str, object]] | None = None,
    oi_due: bool = True,
):  # type: ignore[no-untyped-def]
    return day_metrics(
        DAY, ["AAPL"], ["09:30", "10:00"], frame(intraday), frame(daily), runs or [], oi_due=oi_due
    )


def test_healthy_day_passes_at_the_threshold_edges() -> None:
    intraday = pa.concat_tables(
        [
            snapshot_rows("AAPL", "09:30", 10, delayed=0),
            snapshot_rows("AAPL", "10:00", 10, delayed=1),
        ]
    )
    # 1/20 delayed = 5%; 1/20 fallback = 5% (<= 5% passes); 19/20 OI = 95% (>= 95% passes)
    checks = judge(
        _metrics(intraday, daily_rows("AAPL", 20, fallback=1, missing_oi=1)), QAConfig(), None, None
    )
    assert [c.name for c in checks if not c.passed] == []


def test_breaches_are_named_one_by_one() -> None:
    intraday = snapshot_rows("AAPL", "09:30", 10, delayed=1)  # 10% delayed: must be < 10%
    runs = [
        {
            "trade_date": DAY.isoformat(),
            "task": "snapshot",
            "slot": "10:00",
            "status": "missed",
            "run_id": "r1",
        }
    ]
    checks = judge(
        _metrics(intraday, daily_rows("AAPL", 20, fallback=2, missing_oi=2), runs),
        QAConfig(),
        None,
        None,
    )
    failed = {c.name: c for c in checks if not c.passed}
    assert set(failed) == {
        "slot_coverage",
        "rollup_fallback_ratio",
        "oi_fill_rate",
        "delayed_ratio",
        "missed_runs",
    }
    assert "BREACH" in failed["slot_coverage"].line() and "50.00%" in failed["slot_coverage"].line()
    assert failed["missed_runs"].note == "snapshot@10:00"


def test_oi_is_not_judged_before_enrichment_is_due() -> None:
    intraday = pa.concat_tables([snapshot_rows("AAPL", "09:30"), snapshot_rows("AAPL", "10:00")])
    checks = judge(
        _metrics(intraday, daily_rows("AAPL", 4, missing_oi=4), oi_due=False),
        QAConfig(),
        None,
        None,
    )
    assert "oi_fill_rate" not in [c.name for c in checks]
    assert all(c.passed for c in checks)


def test_thresholds_come_from_config_section_qa(tmp_path: Path) -> None:
    text = (
        Path("config/opt-data.test.toml")
        .read_text(encoding="utf-8")
        .replace("slot_coverage_min = 0.90", "slot_coverage_min = 0.40")
    )
    path = tmp_path / "c.toml"
    path.write_text(text, encoding="utf-8")
    cfg = load_config(path, env={})
    intraday = snapshot_rows("AAPL", "09:30")
    checks = judge(_metrics(intraday, daily_rows("AAPL")), cfg.qa, None, None)
    assert next(c for c in checks if c.name == "slot_coverage").passed  # 50% >= 40%


def test_contracts_expiring_on_the_trade_date_are_left_out_of_rollup_and_oi() -> None:
    expiring = daily_rows("AAPL", 4, fallback=4, missing_oi=4).to_pylist()
    for row in expiring:
        row["expiry"] = DAY
        row["conid"] += 100
    daily = pa.concat_tables(
        [daily_rows("AAPL", 4), pa.Table.from_pylist(expiring, schema=DAILY_CLEAN_SCHEMA)]
    )
    intraday = pa.concat_tables([snapshot_rows("AAPL", "09:30"), snapshot_rows("AAPL", "10:00")])
    metrics = _metrics(intraday, daily)
    assert metrics.rollup_fallback.ratio == 0.0 and metrics.oi_fill.ratio == 1.0
    assert metrics.expiring_rows == 4 and metrics.as_json()["expiring_rows_excluded"] == 4


def test_a_slot_of_unquoted_rows_is_not_coverage() -> None:
    empty = snapshot_rows("AAPL", "10:00", 4).to_pylist()
    for row in empty[:3]:
        row["data_quality_flags"] = ["missing_quote", "no_permission"]
    df = frame(
        pa.concat_tables(
            [snapshot_rows("AAPL", "09:30"), pa.Table.from_pylist(empty, schema=SNAPSHOT_SCHEMA)]
        )
    )
    cov = slot_coverage(df, ["AAPL"], ["09:30", "10:00"])
    assert cov.missing == ["AAPL@10:00"] and cov.ratio == 0.5
