"""The command line: bad flags fail in one line with exit 2; streamable HTTP serves the same tools."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.clock import pinned_env
from tests.support.mcp_client import BIN, McpSession, audit_rows


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--config", "/nonexistent/opt-data.toml"], "config file not found"),
        (["--bogus"], "unrecognized arguments"),
        (["--log-level", "TRACE"], "--log-level"),
        (["--transport", "carrier-pigeon"], "--transport"),
        (["--port", "70000"], "--port"),
    ],
)
def test_bad_flags_fail_in_one_line(
    store: Path, argv: list[str], words: str, tmp_path: Path
) -> None:
    audit = tmp_path / "audit.db"
    for cmd in ([str(BIN / "opt-data"), "mcp-server"], [str(BIN / "opt-data-mcp")]):
        full = [
            *cmd,
            "--audit-db",
            str(audit),
            *(argv if "--config" in argv else ["--config", str(store), *argv]),
        ]
        proc = run(*full)
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and words in lines[0]
        assert proc.stdout == ""
    assert not audit.exists()


def test_an_audit_db_that_cannot_be_written_is_refused(store: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    proc = run(
        str(BIN / "opt-data-mcp"), "--config", str(store), "--audit-db", str(blocker / "audit.db")
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot open the audit DB" in lines[0]


def test_help_lists_the_flags() -> None:
    proc = run(sys.executable, "-m", "mcp_server", "--help")
    assert proc.returncode == 0
    for flag in (
        "--allow-raw",
        "--no-allow-raw",
        "--allow-clean",
        "--audit-db",
        "--log-level",
        "--transport",
    ):
        assert flag in proc.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_streamable_http_transport(store: Path, tmp_path: Path) -> None:
    port = free_port()
    audit = tmp_path / "audit.db"
    proc = subprocess.Popen(
        [str(BIN / "opt-data-mcp"), "--config", str(store), "--audit-db", str(audit),
         "--transport", "streamable-http", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, **pinned_env()},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "server did not start"
                time.sleep(0.1)
        session: Any = McpSession(f"http://127.0.0.1:{port}/mcp")  # type: ignore[arg-type]
        try:
            health = session.ok("health_overview")
            assert "freshness" in health and "coverage" in health
        finally:
            session.close()
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert [r["tool"] for r in audit_rows(audit)] == ["health_overview"]
    assert b"Traceback" not in err
