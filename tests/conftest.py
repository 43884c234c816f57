"""Suite-wide fixtures: the Postgres and S3 servers (started only when a test asks for them)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.postgres import PostgresServer, postgres_server
from tests.support.s3 import S3Server, make_bucket, s3_server, use_server


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    with postgres_server() as server:
        yield server


@pytest.fixture(scope="session")
def s3_srv() -> Iterator[S3Server]:
    with s3_server() as server:
        yield server


@pytest.fixture
def s3_root(s3_srv: S3Server, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """`s3://<fresh bucket>/data` on the loopback S3 server, with the AWS_* chain set."""
    use_server(monkeypatch, s3_srv)
    yield f"s3://{make_bucket(s3_srv)}/data"
