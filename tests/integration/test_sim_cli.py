"""`opt-data gateway-sim` as a process: runs until SIGINT/SIGTERM, exits 0 with a goodbye,
and the documented example script reads an option's quote and greeks from it."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OPT_DATA = str(Path(sys.executable).with_name("opt-data"))
FAST = [
    "--dwell-median",
    "0.05",
    "--dwell-min",
    "0.01",
    "--dwell-max",
    "0.1",
    "--snapshot-end-delay",
    "0.5",
]


def _start(*extra: str) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [OPT_DATA, "gateway-sim", "--port", "0", *FAST, *extra],
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert proc.stderr is not None
    line = proc.stderr.readline()  # "gateway-sim: listening on 127.0.0.1:PORT (Ctrl-C to stop)"
    match = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
    if match is None:
        proc.kill()
        raise AssertionError(f"unexpected first line: {line!r}")
    return proc, int(match.group(1))


@pytest.mark.parametrize(
    "sig, clock, md_type",
    [
        (signal.SIGINT, "2026-11-18T11:00", 1),  # a Wednesday mid-session: live
        (signal.SIGTERM, "2026-11-21T11:00", 2),  # a Saturday: frozen at Friday's close
    ],
)
def test_runs_until_a_signal_and_says_goodbye(
    sig: signal.Signals, clock: str, md_type: int
) -> None:
    proc, port = _start("--clock", clock)
    example = subprocess.run(
        [sys.executable, "scripts/examples/sim_quote.py", "--port", str(port), "--symbol", "MSFT"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=20)
    assert example.returncode == 0, example.stderr
    lines = example.stdout.splitlines()
    assert lines[0].startswith("MSFT  ") and f"market data type {md_type}" in lines[0]
    bid, ask = (float(x) for x in re.findall(r"(?:bid|ask) ([\d.]+) x", lines[1]))
    assert 0 < bid < ask
    assert re.search(r"iv 0\.\d+  delta 0\.\d+", lines[2])
    assert proc.returncode == 0
    last = err.strip().splitlines()
    assert len(last) == 1 and last[0].startswith("gateway-sim: stopped") and "goodbye" in last[0]


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--pacing-error-rate", "2"], "--pacing-error-rate"),
        (["--connectivity", "5:1200"], "connectivity"),
        (["--clock", "2026-13-01"], "clock"),
        (["--speed", "0"], "--speed"),
    ],
)
def test_bad_options_fail_with_one_line(args: list[str], needle: str) -> None:
    done = subprocess.run(
        [OPT_DATA, "gateway-sim", "--port", "0", *args], capture_output=True, text=True, cwd=ROOT
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0]


def test_a_port_in_use_fails_with_one_line() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(
            [OPT_DATA, "gateway-sim", "--port", str(port)], capture_output=True, text=True, cwd=ROOT
        )
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and f"cannot listen on 127.0.0.1:{port}" in lines[0]
