"""SPX and SPXW on one expiry: every tool that groups by expiry and strike keeps them apart.

On 2026-12-18 (the third Friday of December) the AM-settled SPX monthly and the PM-settled
SPXW weekly share an expiry and strikes; they are different options with different
prices and IVs. The store's SPX chain has four expiries; here the 2026-12-18 rows are
labelled SPXW and a copy of them is added as class SPX with IV + SPX_IV_BUMP and other
conids and open interest, so each class's answer is known by construction.
"""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq
import pytest

from scripts.bench.synthetic_store import Shape, build_store
from shared.config import load_config
from shared.queries.flip import zero_gamma_spot
from shared.schema import DAILY_CLEAN_SCHEMA
from shared.storage import Layout
from tests.support.clock import STORE_END
from tests.support.mcp_client import McpSession, records, server_params

SHARED_EXPIRY = date(2026, 12, 18)
SPX_IV_BUMP = 0.0125


@pytest.fixture(scope="module")
def spx(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pl.DataFrame]:
    root = tmp_path_factory.mktemp("spx")
    config = build_store(
        root, sessions=1, symbols=["SPX"], shape=Shape(expiries=4, strikes=10), end=STORE_END
    )
    path = Layout.from_config(load_config(config)).chain_file("daily_clean", STORE_END, "SPX")
    df = pl.read_parquet(path)
    assert SHARED_EXPIRY in df["expiry"].to_list()
    on = pl.col("expiry") == SHARED_EXPIRY
    df = df.with_columns(
        pl.when(on).then(pl.lit("SPXW")).otherwise(pl.col("trading_class")).alias("trading_class")
    )
    monthly = df.filter(on).with_columns(
        pl.lit("SPX").alias("trading_class"),
        (pl.col("conid") + 777).alias("conid"),
        (pl.col("iv") + SPX_IV_BUMP).alias("iv"),
        (pl.col("open_interest") * 2).alias("open_interest"),
        (pl.col("volume") + 10).alias("volume"),
    )
    both = pl.concat([df, monthly]).sort(["expiry", "strike", "right", "trading_class"])
    pq.write_table(both.to_arrow().cast(DAILY_CLEAN_SCHEMA), path, compression="zstd")
    return config, both


@pytest.fixture(scope="module")
def mcp(
    spx: tuple[Path, pl.DataFrame], tmp_path_factory: pytest.TempPathFactory, session_factory: Any
) -> McpSession:
    audit = tmp_path_factory.mktemp("audit-spx") / "audit.db"
    return session_factory(server_params(spx[0], "--audit-db", str(audit)))


def test_term_structure_has_one_row_per_class(
    mcp: McpSession, spx: tuple[Path, pl.DataFrame]
) -> None:
    df = spx[1]
    spot = df["und_price"].median()
    term = records(mcp.ok("get_atm_term_structure", {"symbol": "SPX"})["term_structure"])
    shared = {t["trading_class"]: t for t in term if t["expiry"] == SHARED_EXPIRY.isoformat()}
    assert set(shared) == {"SPX", "SPXW"}
    for cls, row in shared.items():
        sub = df.filter((pl.col("expiry") == SHARED_EXPIRY) & (pl.col("trading_class") == cls))
        atm = min(sub["strike"].unique().to_list(), key=lambda k: abs(k - spot))
        want = sub.filter(pl.col("strike") == atm)["iv"].mean()
        assert row["atm_strike"] == atm and row["atm_iv"] == pytest.approx(want, abs=1e-6)
    assert shared["SPX"]["atm_iv"] - shared["SPXW"]["atm_iv"] == pytest.approx(
        SPX_IV_BUMP, abs=1e-6
    )
    assert len(term) == 5  # three single-class expiries and two classes on the shared one


def test_smile_keeps_classes_apart_and_filters_by_class(
    mcp: McpSession, spx: tuple[Path, pl.DataFrame]
) -> None:
    df = spx[1].filter(pl.col("expiry") == SHARED_EXPIRY)
    both = mcp.ok("get_iv_smile", {"symbol": "SPX", "expiry": SHARED_EXPIRY.isoformat()})
    assert both["trading_classes"] == ["SPX", "SPXW"]
    points = records(both["points"])
    assert len(points) == 2 * df["strike"].n_unique()
    assert any("trading_class" in note for note in both["meta"]["notes"])
    only = mcp.ok(
        "get_iv_smile",
        {"symbol": "SPX", "expiry": SHARED_EXPIRY.isoformat(), "trading_class": "spx"},
    )
    calls = df.filter((pl.col("trading_class") == "SPX") & (pl.col("right") == "C"))
    want = dict(zip(calls["strike"], calls["iv"], strict=True))
    got = records(only["points"])
    assert {p["trading_class"] for p in got} == {"SPX"} and len(got) == len(want)
    for p in got:
        assert p["call_iv"] == pytest.approx(want[p["strike"]], abs=1e-6)


def test_put_call_ratios_per_expiry_and_class(
    mcp: McpSession, spx: tuple[Path, pl.DataFrame]
) -> None:
    df = spx[1]
    rows = records(mcp.ok("get_put_call_ratios", {"symbol": "SPX"})["by_expiry"])
    shared = {r["trading_class"]: r for r in rows if r["expiry"] == SHARED_EXPIRY.isoformat()}
    for cls in ("SPX", "SPXW"):
        sub = df.filter((pl.col("expiry") == SHARED_EXPIRY) & (pl.col("trading_class") == cls))
        puts, calls = (sub.filter(pl.col("right") == r)["open_interest"].sum() for r in ("P", "C"))
        assert shared[cls]["pc_oi_ratio"] == pytest.approx(puts / calls, rel=1e-6)


def test_chain_sample_shows_the_class_when_there_are_several(mcp: McpSession) -> None:
    r = mcp.ok(
        "get_chain_sample",
        {"symbol": "SPX", "expiry": SHARED_EXPIRY.isoformat(), "strike_min": 0, "limit": 4},
    )
    assert r["trading_classes"] == ["SPX", "SPXW"] and "trading_class" in r["columns"]
    spxw = mcp.ok("get_chain_sample", {"symbol": "SPX", "trading_class": "SPXW", "limit": 1000})
    assert {x["trading_class"] for x in records(spxw)} == {"SPXW"}


def test_gex_sums_classes_at_a_strike_and_reports_both_flips(
    mcp: McpSession, spx: tuple[Path, pl.DataFrame]
) -> None:
    df = spx[1]
    spot = df["und_price"].median()
    r = mcp.ok(
        "get_oi_gamma_by_strike",
        {"symbol": "SPX", "expiry": SHARED_EXPIRY.isoformat(), "limit": 2000},
    )
    sub = df.filter(pl.col("expiry") == SHARED_EXPIRY)
    for row in records(r["strikes"]):
        at = sub.filter(pl.col("strike") == row["strike"])
        want = sum((1 if rt == "C" else -1) * g * oi * 100 * spot * spot * 0.01
                   for rt, g, oi in zip(at["right"], at["gamma"], at["open_interest"], strict=True))  # fmt: skip
        assert row["net_gex"] == pytest.approx(want, rel=1e-6)
    expected = zero_gamma_spot(sub, spot, STORE_END)["zero_gamma_spot"]
    assert r["summary"]["zero_gamma_spot"] == expected
    assert r["summary"]["flip_contracts"] == sub.height


def test_zero_gamma_spot_has_the_closed_form_of_a_call_and_a_put() -> None:
    """One call at K1 and one put at K2 with equal OI, IV and expiry: dealer GEX is zero where
    both gammas are equal, d1(K1) = -d1(K2), i.e. S = sqrt(K1 K2) exp(-sigma^2 T / 2)."""
    k1, k2, sigma, days = 110.0, 90.0, 0.3, 73
    frame = pl.DataFrame({
        "strike": [k1, k2], "right": ["C", "P"], "iv": [sigma, sigma], "open_interest": [1000, 1000],
        "multiplier": [100, 100], "expiry": [date(2026, 3, 15)] * 2,
    })  # fmt: skip
    trade_date = date.fromordinal(date(2026, 3, 15).toordinal() - days)
    t = days / 365
    want = math.sqrt(k1 * k2) * math.exp(-sigma * sigma * t / 2)
    got = zero_gamma_spot(frame, 100.0, trade_date)
    assert got["zero_gamma_spot"] == pytest.approx(want, rel=1e-4)
    assert got["flip_contracts"] == 2
    none = zero_gamma_spot(frame.filter(pl.col("right") == "C"), 100.0, trade_date)
    assert none["zero_gamma_spot"] is None  # calls only: GEX never changes sign
