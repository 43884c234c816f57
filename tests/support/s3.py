"""A real S3-compatible server for the tests: moto's standalone server on 127.0.0.1.

The server runs once per test session on a free loopback port (ThreadedMotoServer, the
same HTTP API as AWS S3). Each test gets its own bucket and the standard AWS_* variables
(endpoint, keys, region) set through monkeypatch, so the code under test reaches it
through the real client chain (botocore reads AWS_ENDPOINT_URL itself), and any
subprocess the test starts inherits them.
"""

from __future__ import annotations

import logging
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

REGION = "us-east-1"
KEY_ID = "testing-key-id"
SECRET = "testing-secret"  # moto accepts any; a value so redaction tests have one


@dataclass(frozen=True)
class S3Server:
    port: int

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def s3_server() -> Iterator[S3Server]:
    from moto.server import ThreadedMotoServer

    # the server's per-request access log (werkzeug, INFO) would bury what a run prints
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield S3Server(port)
    finally:
        server.stop()


def use_server(mp: pytest.MonkeyPatch, server: S3Server) -> None:
    """Point the standard AWS chain at the server and nothing else (no profile, no files)."""
    mp.setenv("AWS_ENDPOINT_URL", server.endpoint)
    mp.setenv("AWS_ACCESS_KEY_ID", KEY_ID)
    mp.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    mp.setenv("AWS_DEFAULT_REGION", REGION)
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3"):
        mp.delenv(var, raising=False)
    mp.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    mp.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
    forget_clients()


def forget_clients() -> None:
    """fsspec caches filesystem instances (with the endpoint they were made with)."""
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()


def client(server: S3Server) -> Any:
    """A boto3 S3 client of the server, independent of the code under test's client."""
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
        region_name=REGION,
    )


def make_bucket(server: S3Server, name: str | None = None) -> str:
    bucket = name or f"optdata-{uuid.uuid4().hex[:12]}"
    client(server).create_bucket(Bucket=bucket)
    return bucket


def list_keys(server: S3Server, bucket: str) -> dict[str, int]:
    """Every object in the bucket with its size, straight from the S3 API (not fsspec)."""
    out: dict[str, int] = {}
    for page in client(server).get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            out[obj["Key"]] = int(obj["Size"])
    return out
