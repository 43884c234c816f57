"""A real Postgres server for the tests: Debian's postgresql package, one cluster per session.

initdb into a fresh directory, pg_ctl start on a free loopback port, password (scram)
authentication so the URLs the tests use carry a secret to keep out of logs. initdb
refuses to run as root, so as root the cluster belongs to the `postgres` user (created by
the package) and its commands run through runuser. A server that cannot start fails the
test that asked for it with the reason; nothing is skipped.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

USER = "optdata"
PASSWORD = "s3cret-pw"  # a test-only password, so redaction has something to hide


class PostgresUnavailable(RuntimeError):
    """The server cannot be started here; the message says what is missing."""


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version)
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).resolve().parent
    raise PostgresUnavailable(
        "Postgres is not installed: `apt-get install -y postgresql` (.ci/run does this)"
    )


def _version(path: str) -> int:
    part = Path(path).parents[1].name
    return int(part) if part.isdigit() else 0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class PostgresServer:
    port: int
    data_dir: Path

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh, empty database; returns its URL (one per test keeps tests apart)."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as con:
            con.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def _as_owner(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", "postgres", "--", *cmd]


def _run(cmd: list[str], what: str) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise PostgresUnavailable(f"{what} failed: {' | '.join(tail)}")


@contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    bindir = _bin_dir()
    root = Path(tempfile.mkdtemp(prefix="optdata-pg-"))
    data_dir = root / "data"
    pwfile = root / "pw"
    pwfile.write_text(PASSWORD + "\n", encoding="utf-8")
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(pwfile, "postgres")
        root.chmod(0o700)
    port = _free_port()
    try:
        _run(
            _as_owner([str(bindir / "initdb"), "-D", str(data_dir), "-U", USER,
                       "--pwfile", str(pwfile), "-A", "scram-sha-256", "-E", "UTF8",
                       "--locale=C", "--no-sync"]),
            "initdb",
        )  # fmt: skip
        opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
        _run(
            _as_owner([str(bindir / "pg_ctl"), "-D", str(data_dir), "-o", opts,
                       "-l", str(root / "server.log"), "-w", "-t", "60", "start"]),
            "pg_ctl start",
        )  # fmt: skip
        try:
            yield PostgresServer(port, data_dir)
        finally:
            subprocess.run(
                _as_owner(
                    [str(bindir / "pg_ctl"), "-D", str(data_dir), "-m", "fast", "-w", "stop"]
                ),
                capture_output=True,
                timeout=60,
                check=False,
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)
