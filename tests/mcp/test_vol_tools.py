"""get_vol_timeseries and get_vol_surface over stdio, on the store of exact smiles.

Expected values are worked from the definitions (tests/mcp/known_smile.py explains the
smile): ATM IV at 30 days from 20- and 40-day expiries in total variance, RR25/BF25 from
the 25-delta points atm + 0.02 (call) and atm + 0.05 (put) of each expiry.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.mcp import known_smile as ks
from tests.support.mcp_client import McpSession, records, server_params


def tv30(s20: float, s40: float) -> float:
    """By hand: w(30) is the mean of w(20) and w(40) (30 is halfway), sigma = sqrt(w / 30)."""
    return math.sqrt((s20 * s20 * 20 + s40 * s40 * 40) / 2 / 30)


@pytest.fixture(scope="module")
def known_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ks.build_known_store(tmp_path_factory.mktemp("known"))


@pytest.fixture(scope="module")
def mcp(known_store: Path, session_factory: Callable[..., McpSession]) -> McpSession:
    return session_factory(server_params(known_store, "--allow-raw"))


def columns(table: dict[str, Any]) -> dict[str, list[Any]]:
    """A reply's {columns, rows} table as one list per column."""
    rows = records(table)
    return {c: [r[c] for r in rows] for c in table["columns"]}


def test_timeseries_daily_known_answers(mcp: McpSession) -> None:
    out = mcp.ok("get_vol_timeseries", {"symbol": "KNWN"})
    s = columns(out["series"])
    assert s["date"] == [d.isoformat() for d in ks.SESSIONS]
    for i in range(3):
        a20, a40 = 0.20 + 0.01 * i, 0.30 + 0.01 * i
        assert s["atm_iv_30d"][i] == pytest.approx(tv30(a20, a40), abs=1e-6)
        assert s["atm_iv_90d"][i] == pytest.approx(0.25 + 0.01 * i, abs=1e-6)
        c25, p25 = tv30(a20 + 0.02, a40 + 0.02), tv30(a20 + 0.05, a40 + 0.05)
        assert s["rr25"][i] == pytest.approx(c25 - p25, abs=1e-6)
        assert s["bf25"][i] == pytest.approx((c25 + p25) / 2 - tv30(a20, a40), abs=1e-6)
    assert s["atm_iv_7d"] == [None, None, None]  # first expiry is 20 days out
    # gamma is stored as float32 (7 significant digits, docs/data-contract.md)
    assert s["total_gex"] == [pytest.approx(-6000.0, rel=1e-6)] * 3
    assert s["pc_oi_ratio"] == [3.0] * 3
    assert any("atm_iv_7d: not reached" in n for n in out["meta"]["notes"])


def test_timeseries_each_slot_prefers_the_newer_slot_file(mcp: McpSession) -> None:
    out = mcp.ok(
        "get_vol_timeseries",
        {"symbol": "KNWN", "view": "intraday", "each_slot": True,
         "from_date": "2026-11-20", "to_date": "friday", "tenors": [30]},
    )  # fmt: skip
    assert out["meta"]["resolved"] == {"from_date": "2026-11-20", "to_date": "2026-11-20"}
    s = columns(out["series"])
    assert s["slot"] == ["10:00", "12:00", "16:00"]
    # session index 2: 10:00 compacted (-2 pts), 12:00 the newer slot file (+1 pt), 16:00 (0)
    expect = [tv30(0.22 + d, 0.32 + d) for d in (-0.02, 0.01, 0.0)]
    assert s["atm_iv_30d"] == pytest.approx(expect, abs=1e-6)
    assert out["series"]["columns"] == ["date", "slot", "spot", "atm_iv_30d", "rr25", "bf25",
                                        "total_gex", "pc_volume_ratio", "pc_oi_ratio"]  # fmt: skip


def test_unreached_25_delta_is_null_with_a_note(mcp: McpSession) -> None:
    out = mcp.ok("get_vol_timeseries", {"symbol": "NARW", "sessions": 2})
    s = columns(out["series"])
    assert s["rr25"] == [None, None] and s["bf25"] == [None, None]
    assert s["atm_iv_30d"][0] == pytest.approx(tv30(0.21, 0.31), abs=1e-6)
    assert any("do not reach the 25-delta" in n for n in out["meta"]["notes"])
    surf = mcp.ok("get_vol_surface", {"symbol": "NARW"})
    j = surf["deltas"].index(0.25)
    assert [row[j] for row in surf["iv"]] == [None] * len(surf["tenors"])
    assert {row[j] for row in surf["how"]} == {"not_reached"}
    assert any("25-delta" in n for n in surf["meta"]["notes"])


def test_surface_known_points_and_flags(mcp: McpSession) -> None:
    out = mcp.ok("get_vol_surface", {"symbol": "KNWN", "date": "2026-11-18",
                                     "tenors": [7, 20, 30, 180], "deltas": [25, 50, 75]})  # fmt: skip
    assert out["deltas"] == [0.25, 0.5, 0.75] and out["tenors"] == [7, 20, 30, 180]
    iv, how = out["iv"], out["how"]
    assert how[0] == ["extrapolated"] * 3 and iv[0] == pytest.approx([0.22, 0.20, 0.25])
    assert how[1] == ["exact"] * 3 and iv[1] == pytest.approx([0.22, 0.20, 0.25])
    assert how[2] == ["interpolated"] * 3
    assert iv[2] == pytest.approx([tv30(0.22, 0.32), tv30(0.20, 0.30), tv30(0.25, 0.35)], abs=1e-6)
    assert how[3] == ["extrapolated"] * 3 and iv[3] == pytest.approx([0.27, 0.25, 0.30])
    assert columns(out["by_expiry"])["days"] == [20, 40, 90]


def test_surface_of_a_compacted_slot(mcp: McpSession) -> None:
    out = mcp.ok("get_vol_surface", {"symbol": "KNWN", "view": "intraday", "slot": "10:00",
                                     "date": "2026-11-20", "tenors": [20]})  # fmt: skip
    assert out["partition"]["slot"] == "10:00"
    assert out["iv"][0][out["deltas"].index(0.5)] == pytest.approx(0.20)  # 22% - 2 pts


def _image(mcp: McpSession, tool: str, args: dict[str, Any]) -> tuple[bytes, Any]:
    result = mcp.run(lambda c: c.call_tool(tool, args))
    assert not result.is_error
    images = [b for b in result.content if getattr(b, "type", "") == "image"]
    assert len(images) == 1 and images[0].mime_type == "image/png"
    return base64.b64decode(images[0].data), result.structured_content


def test_charts_on_request(mcp: McpSession) -> None:
    png, data = _image(mcp, "get_vol_timeseries", {"symbol": "KNWN", "chart": True})
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5_000
    assert columns(data["series"])["date"][0] == "2026-11-18"
    png, data = _image(mcp, "get_vol_surface", {"symbol": "KNWN", "chart": True})
    assert png.startswith(b"\x89PNG") and data["how"]
    plain = mcp.run(lambda c: c.call_tool("get_vol_surface", {"symbol": "KNWN"}))
    assert [b.type for b in plain.content] == ["text"]


@pytest.mark.parametrize(
    ("tool", "key"),
    [("get_iv_smile", "points"), ("get_atm_term_structure", "term_structure"),
     ("get_oi_gamma_by_strike", "strikes")],
)  # fmt: skip
def test_analysis_tools_chart_on_request(mcp: McpSession, tool: str, key: str) -> None:
    png, data = _image(mcp, tool, {"symbol": "KNWN", "chart": True})
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5_000
    assert data[key]["rows"]  # the same JSON reply as without a chart
    assert mcp.ok(tool, {"symbol": "KNWN"})[key] == data[key]


def test_bad_arguments_are_one_line_errors(mcp: McpSession) -> None:
    for tool, args, words in [
        ("get_vol_timeseries", {"symbol": "KNWN", "each_slot": True}, "raw view"),
        ("get_vol_timeseries", {"symbol": "KNWN", "tenors": [0]}, "tenors"),
        (
            "get_vol_timeseries",
            {"symbol": "KNWN", "from_date": "2026-11-20", "to_date": "2026-11-18"},
            "after",
        ),
        ("get_vol_timeseries", {"symbol": "ZZZZ"}, "no daily_clean data"),
        ("get_vol_surface", {"symbol": "KNWN", "deltas": [0, 50]}, "deltas"),
    ]:
        message = mcp.error(tool, args)
        assert words in message and "\n" not in message.strip(), message
