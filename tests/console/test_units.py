"""Console logic without a server: slot grid, throughput summary, audit reads, job specs, binds."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
import typer

from collector.cli.console import bind_token, is_loopback
from collector.console.grid import slot_grid, status_counts
from collector.console.jobs import JobRefused, JobSpec
from collector.console.overview import throughput_rows
from collector.console.svg import bar_chart, line_chart
from collector.pipeline.throughput import DWELL_EDGES, throughput_summary
from mcp_server.audit import SCHEMA as AUDIT_SCHEMA
from shared.audit_reads import AuditReader, AuditReadError, CallFilter, percentile
from tests.support.pipeline import write_config

DAY = date(2026, 11, 18)  # the simulated Wednesday session of tests/support/pipeline.py


def part(sym: str, slot: str, rows: int = 10, quote: float = 1.0, greeks: float = 1.0,
         delayed: int = 0) -> dict[str, object]:  # fmt: skip
    return {"underlying": sym, "slot": slot, "rows": rows, "quote_fill": quote,
            "greeks_fill": greeks, "delayed_rows": delayed, "run_id": f"run-{slot}"}  # fmt: skip


def test_grid_colours_every_case() -> None:
    slots = ["09:30", "10:00", "10:30", "11:00", "11:30", "12:00", "12:30"]
    parts = [part("AAPL", "09:30", quote=0.4), part("AAPL", "10:00", delayed=3),
             part("AAPL", "10:30"), part("AAPL", "11:00", rows=0)]  # fmt: skip
    runs = [{"run_id": "run-10:30", "slot": "10:30", "status": "partial"},
            {"run_id": "r-1130", "slot": "11:30", "status": "partial"},
            {"run_id": "r-1200", "slot": "12:00", "status": "running"}]  # fmt: skip
    grid = slot_grid(["AAPL", "MSFT"], slots, parts, runs, due=[*slots[:5], "12:00"],
                     queued=["11:30"])  # fmt: skip
    assert [c.status for c in grid[0]] == [
        "ok", "delayed", "partial", "partial", "queued", "running", "pending"]  # fmt: skip
    assert [c.status for c in grid[1]][:2] == ["missed", "missed"]
    assert grid[0][0].run_id == "run-09:30" and grid[0][4].run_id == "r-1130"
    assert "quotes 40%" in grid[0][0].note  # a low quote fill is shown, not coloured
    assert grid[1][6].run_id is None
    counts = status_counts(grid)
    assert counts["missed"] == 4 and counts["pending"] == 2 and sum(counts.values()) == 14


def test_throughput_summary_and_the_ceiling_of_capacity(tmp_path: Path) -> None:
    dwell = [0.04] * 50 + [0.2] * 40 + [13.0] * 10  # 10 timed out past the 12 s edge
    s = throughput_summary(dwell, collect_sec=10.0)
    assert s["contracts"] == 100 and s["contracts_per_sec"] == 10.0
    assert s["dwell_sec"]["counts"] == [50, 0, 40, 0, 0, 0, 0, 0, 0, 10]
    assert s["dwell_sec"]["edges"] == list(DWELL_EDGES)
    assert (s["dwell_sec"]["p50"], s["dwell_sec"]["max"]) == (0.2, 13.0)
    mean = s["dwell_sec"]["mean"]
    assert mean == round((0.04 * 50 + 0.2 * 40 + 13.0 * 10) / 100, 4)
    assert throughput_summary([], 0.0)["contracts_per_sec"] is None
    cfg = write_config(tmp_path, 4002)  # max_lines 100, 49 messages per 1.05 s
    run = {"run_id": "r", "task": "snapshot", "slot": "10:30", "status": "ok", "total": 100,
           "duration_s": 12.0, "details": json.dumps({"throughput": s})}  # fmt: skip
    (row,) = throughput_rows(cfg, [run, {**run, "task": "rollup"}])
    assert row["contracts_per_sec"] == 10.0
    assert row["ceiling"] == round(min(49 / 1.05 / 2, 100 / mean), 2)
    assert row["bound_by"] == "messages"  # 100 lines / 1.4 s mean dwell = 71/s > 23.3/s


def audit_db(path: Path) -> Path:
    con = sqlite3.connect(path)
    con.executescript(AUDIT_SCHEMA)  # the writer's own schema: no second copy here
    rows = [("2026-11-18T15:00:00.000+00:00", "health_overview", "{}", 0, 0, 10.0, "ok", None),
            ("2026-11-18T15:01:00.000+00:00", "get_chain_sample", '{"symbol": "AAPL"}', 1, 200, 30.0, "clamped", None),
            ("2026-11-18T15:02:00.000+00:00", "get_chain_sample", '{"symbol": "../x"}', 0, 0, 1.0, "rejected", "invalid symbol"),
            ("2026-11-18T15:03:00.000+00:00", "get_chain_sample", '{"symbol": "MSFT"}', 0, 50, 20.0, "ok", None)]  # fmt: skip
    con.executemany("INSERT INTO calls (ts, tool, arguments, clamped, rows, duration_ms, status, error) "
                    "VALUES (?,?,?,?,?,?,?,?)", rows)  # fmt: skip
    con.commit()
    con.close()
    return path


def test_audit_reader_filters_and_summarises(tmp_path: Path) -> None:
    reader = AuditReader(audit_db(tmp_path / "mcp_audit.db"))
    calls = reader.calls()
    assert [c["id"] for c in calls] == [4, 3, 2, 1]  # newest first
    assert [
        c["status"] for c in reader.calls(CallFilter(tool="get_chain_sample", status="ok"))
    ] == ["ok"]
    assert len(reader.calls(CallFilter(since="2026-11-18T15:01:30"))) == 2
    s = reader.summary()
    chain = next(t for t in s["tools"] if t["tool"] == "get_chain_sample")
    assert (chain["calls"], chain["ok"], chain["clamped"], chain["rejected"], chain["rows"]) == (
        3,
        1,
        1,
        1,
        250,
    )
    assert (chain["p50_ms"], chain["p99_ms"], chain["max_ms"]) == (20.0, 30.0, 30.0)
    assert s["by_status"] == {"ok": 2, "clamped": 1, "rejected": 1, "error": 0}
    with pytest.raises(sqlite3.OperationalError), reader._connect() as con:  # mode=ro
        con.execute("DELETE FROM calls")
    with pytest.raises(AuditReadError, match="has not run yet"):
        AuditReader(tmp_path / "absent.db").calls()
    assert not (tmp_path / "absent.db").exists()


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 0.5) is None
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.99) == 4.0


def test_job_specs_become_the_collector_cli(tmp_path: Path) -> None:
    cfg = tmp_path / "opt-data.toml"
    snap = JobSpec.parse(
        {"operation": "snapshot", "date": "2026-11-18", "slot": "11:30", "symbols": "aapl, MSFT"}
    )
    assert snap.argv(cfg)[3:] == ["snapshot", "--config", str(cfg), "--date", "2026-11-18",
                                  "--slot", "11:30", "--symbols", "AAPL,MSFT", "--json"]  # fmt: skip
    assert snap.lock_prefix() == "snapshot_2026-11-18_1130"
    retry = JobSpec.parse({"operation": "retry-missed", "date": "2026-11-18", "slot": "11:30"})
    assert retry.argv(cfg)[-1] == "--retry-missed"
    replay = JobSpec.parse({"operation": "replay-missed", "date": "2026-11-18"})
    assert "--replay-missed" in replay.argv(cfg) and replay.lock_prefix() == "snapshot_2026-11-18_"
    close = JobSpec.parse({"operation": "close-snapshot", "date": "2026-11-18", "slot": "11:30"})
    assert close.slot is None and close.lock_prefix() == "close-snapshot_2026-11-18_"
    rollup = JobSpec.parse({"operation": "rollup", "date": "2026-11-18"})
    assert rollup.lock_prefix() is None and "--slot" not in rollup.argv(cfg)
    for bad, why in (({"operation": "rm -rf"}, "unknown operation"),
                     ({"operation": "snapshot", "date": "2026-11-18"}, "needs a slot"),
                     ({"operation": "snapshot", "date": "2026-11-18", "slot": "25:00"}, "slot"),
                     ({"operation": "rollup", "date": "not-a-date"}, "date"),
                     ({"operation": "snapshot", "date": "2026-11-18", "slot": "10:00", "symbols": "../etc"}, "symbol")):  # fmt: skip
        with pytest.raises(JobRefused, match=why):
            JobSpec.parse(bad)


def test_binding_off_loopback_needs_a_long_token() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("example.org")
    assert bind_token("127.0.0.1", None) is None
    assert bind_token("0.0.0.0", "x" * 16) == "x" * 16
    for host, token in (("0.0.0.0", None), ("0.0.0.0", "short"), ("10.0.0.5", "  ")):
        with pytest.raises(typer.Exit) as exc:
            bind_token(host, token)
        assert exc.value.exit_code == 2


def test_charts_are_svg_with_hover_values_and_gaps() -> None:
    svg = line_chart("c1", "smile", [90.0, 100.0, 110.0], [("call_iv", [0.3, None, 0.25])],
                     xlabel="strike", vline=(100.0, "spot"))  # fmt: skip
    assert svg.count("<circle") == 2 and "call_iv @ 110: 0.25" in svg
    assert "<polyline" not in svg  # the gap leaves two one-point segments, no line across it
    bars = bar_chart("c2", "gex", ["90", "100"], [-2.0e6, 3.0e6])
    assert 'class="bar neg"' in bars and 'class="bar pos"' in bars
    assert "no data" in line_chart("c3", "empty", [], [("x", [])])


def test_audit_command_lists_and_summarises(tmp_path: Path) -> None:
    db = audit_db(tmp_path / "mcp_audit.db")
    cfg = str(write_config(tmp_path, 4002).source_file)
    base = [
        str(Path(sys.executable).parent / "opt-data"),
        "audit",
        "--config",
        cfg,
        "--audit-db",
        str(db),
    ]
    out = subprocess.run(
        [*base, "--summary", "--json"], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["by_status"] == {"ok": 2, "clamped": 1, "rejected": 1, "error": 0}
    out = subprocess.run(
        [*base, "--status", "rejected"], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0 and out.stdout.count("\n") == 1
    assert "get_chain_sample rejected" in out.stdout and "error=invalid symbol" in out.stdout
    out = subprocess.run([*base, "--summary"], capture_output=True, text=True, timeout=120)
    assert "4 calls: ok 2, clamped 1, rejected 1, error 0" in out.stdout
    out = subprocess.run([*base, "--status", "weird"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "unknown status 'weird'" in out.stderr


def test_query_tables_reach_the_pages_as_records() -> None:
    from collector.console.reads import as_records

    compact = {"columns": ["strike", "iv"], "rows": [[100.0, 0.2], [105.0, None]]}
    assert as_records(compact) == [{"strike": 100.0, "iv": 0.2}, {"strike": 105.0, "iv": None}]
    listed = [{"strike": 100.0}]
    assert as_records(listed) is listed


def test_a_port_in_use_or_out_of_range_is_one_line_before_announcing(tmp_path: Path) -> None:
    """Was: a busy port printed the console's address as if it served, then uvicorn's own
    error and exit 3; --port 70000 printed an asyncio traceback."""
    import socket

    from typer.testing import CliRunner

    from collector.cli.main import app

    cfg = write_config(tmp_path, 1)
    with socket.create_server(("127.0.0.1", 0)) as held:
        port = held.getsockname()[1]
        busy = CliRunner().invoke(app, ["console", "--config", str(cfg.source_file),
                                        "--port", str(port)])  # fmt: skip
    assert busy.exit_code == 1, busy.output
    assert busy.output == f"opt-data: error: cannot listen on 127.0.0.1:{port}: address in use\n"
    wide = CliRunner().invoke(app, ["console", "--config", str(cfg.source_file), "--port", "70000"])
    assert wide.exit_code == 2, wide.output
    assert wide.output == "opt-data: error: --port must be 1-65535, got 70000\n"


def test_audit_since_must_be_a_time_and_no_match_says_so(tmp_path: Path) -> None:
    """Was: `--since garbage` listed nothing with exit 0, and so did a filter matching
    nothing: an empty screen either way."""
    from typer.testing import CliRunner

    from collector.cli.main import app

    db = audit_db(tmp_path / "mcp_audit.db")
    base = ["audit", "--config", str(write_config(tmp_path, 4002).source_file), "--audit-db",
            str(db)]  # fmt: skip
    bad = CliRunner().invoke(app, [*base, "--since", "garbage"])
    assert bad.exit_code == 2, bad.output
    assert bad.output.startswith("opt-data: error: --since must be an ISO time")
    none = CliRunner().invoke(app, [*base, "--tool", "no_such_tool"])
    assert none.exit_code == 0 and none.output == "no MCP tool calls match\n", none.output
