"""Client conformance: the same scenarios driven by three clients this project did not
write, each from its own virtual environment (built by `make conformance-venvs` from the
pins in tests/conformance/requirements/), against simulators started here.

    ibapi 9.81.1.post1   IB's official client (server versions 100-157: the v157 layouts)
    ib_insync 0.9.86     (157-176)
    ib_async 2.1.0       (157-178, answered with 176)
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from collector.gateway_sim import FaultConfig, SimConfig, SimThread
from shared.calendar import ET

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
WEDNESDAY_11_00 = datetime(2026, 11, 18, 11, 0, tzinfo=ET)
SATURDAY_NOON = datetime(2026, 11, 21, 12, 0, tzinfo=ET)
SNAPSHOT_WINDOW = 0.5  # IB's 11 s, shortened for the suite
CLIENTS = {
    "ibapi": ("scenario_ibapi.py", []),
    "ib_insync": ("scenario_insync.py", ["ib_insync"]),
    "ib_async": ("scenario_insync.py", ["ib_async"]),
}
VENVS = {"ibapi": "ibapi", "ib_insync": "insync", "ib_async": "async"}

pytestmark = pytest.mark.slow


def _python(client: str) -> Path:
    python = ROOT / f".venv-conf-{VENVS[client]}" / "bin" / "python"
    if not python.exists():
        message = f"{python.parent.parent.name} is missing: run `make conformance-venvs`"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return python


def _config(start: datetime, **overrides: object) -> SimConfig:
    faults = FaultConfig(no_permission_symbols=("TSLA",))
    return SimConfig.fast(clock_start=start, faults=faults, **overrides)


@pytest.fixture(scope="module")
def ports() -> Iterator[tuple[int, int]]:
    open_sim = SimThread(_config(WEDNESDAY_11_00, max_lines=6, snapshot_end_delay=SNAPSHOT_WINDOW))
    closed_sim = SimThread(_config(SATURDAY_NOON))
    with open_sim, closed_sim:
        yield open_sim.port, closed_sim.port


@pytest.fixture(scope="module", params=list(CLIENTS))
def seen(request: pytest.FixtureRequest, ports: tuple[int, int]) -> dict:
    client = request.param
    script, args = CLIENTS[client]
    python = _python(client)
    run = subprocess.run(
        [str(python), str(HERE / "clients" / script), *args, *map(str, ports)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=HERE,  # never this project's packages: the client venv has only the client
    )
    assert run.returncode == 0, f"{client} scenario failed:\n{run.stderr[-3000:]}"
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_handshake_agrees_the_clients_version(seen: dict) -> None:
    expected = 157 if seen["client"].startswith("ibapi") else 176
    assert seen["server_version"] == expected
    assert abs(seen["current_time"] - WEDNESDAY_11_00.timestamp()) < 600


def test_contract_details_stock_index_option(seen: dict) -> None:
    assert seen["stk"] == {
        "conId": 265598,
        "timeZoneId": "US/Eastern",
        "liquidHours": "20261118:0930-20261118:1600",
        "stockType": "COMMON",
    }
    assert seen["ind"] == {"conId": 416904, "timeZoneId": "US/Central"}
    assert seen["opt"]["rows"] > 10 and seen["opt"]["secType"] == "OPT"
    assert seen["opt"]["multiplier"] == "100"


def test_secdef_and_the_union_trap(seen: dict) -> None:
    assert seen["secdef"]["exchanges"] == ["AMEX", "CBOE", "ISE", "SMART"]
    assert seen["union_trap"] == {"rows": 0, "codes": [200]}


def test_streaming_with_the_runbook_generic_ticks(seen: dict) -> None:
    assert seen["stream_opt"] == {
        "md_type": 1,
        "quoted": True,
        "delta": True,
        "open_interest": True,
        "last_greeks": True,
        "range": True,
        "iv_24_absent": True,
    }
    assert all(seen["stream_stk"].values()), seen["stream_stk"]


def test_cancel_stops_the_updates(seen: dict) -> None:
    assert seen["cancel"] == {"updates_after": 0, "codes": []}


def test_snapshot_takes_the_whole_window_and_321_refuses_generic_ticks(seen: dict) -> None:
    snap = seen["snapshot"]
    assert snap["quoted"] and snap["greeks"]
    assert SNAPSHOT_WINDOW <= snap["seconds"] < SNAPSHOT_WINDOW + 2
    assert seen["snapshot_generic"]["codes"] == [321]


def test_market_data_types_and_a_symbol_without_permission(seen: dict) -> None:
    assert seen["no_permission_live"]["codes"] == [354]
    delayed = seen["no_permission_delayed"]
    assert delayed["md_type"] == 3 and delayed["codes"] == [10167]
    assert delayed["tick_ids"] == [66, 67, 68]  # delayed bid, ask, last
    assert seen["closed_type1"] == {"md_type": 1, "bid": -1.0, "ask": -1.0}
    assert seen["closed_type2"] == {"md_type": 2, "quoted": True}
    assert seen["closed_type4"] == {"md_type": 4, "quoted": True}


def test_historical_bars_on_clock_hours(seen: dict) -> None:
    assert seen["hist"]["bars"] in (2, 3)  # 09:30, 10:00 (and 11:00 once the clock passes)
    assert (seen["hist"]["first"], seen["hist"]["second"]) == ("09:30", "10:00")


def test_the_100_and_101_limits(seen: dict) -> None:
    assert seen["rate_100"] == {"codes": [100], "connected": True}
    assert seen["lines_101"]["codes"] == [101]
