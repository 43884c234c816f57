"""Copies between a local data tree and the loopback S3 server, to compare readers local vs
object store (the local reader is the oracle).

Up: each file goes through the data root's own writer (shared.datafs.write_bytes: one
PUT). Down: straight through the S3 API (boto3). Either way the result is checked against
a listing of the other side, so a copy that lost or changed a file fails here, not later
in a comparison.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shared.config import AppConfig
from shared.datafs import data_root, list_files, write_bytes
from tests.support.s3 import S3Server, client, list_keys

TIMING_KEYS = {"elapsed_ms", "duration_ms"}


def mirror(local: Path, server: S3Server, bucket: str, prefix: str = "data") -> str:
    """Copy every file under `local` to s3://bucket/prefix/...; returns that URI."""
    uri = f"s3://{bucket}/{prefix}"
    target = data_root(uri)
    sent = {}
    for entry in list_files(local):
        assert isinstance(entry.path, Path)
        rel = entry.path.relative_to(local).as_posix()
        write_bytes(target.joinpath(*rel.split("/")), entry.path.read_bytes())
        sent[f"{prefix}/{rel}"] = entry.size
    stored = {k: v for k, v in list_keys(server, bucket).items() if k.startswith(f"{prefix}/")}
    assert stored == sent, "the bucket does not hold exactly the local tree"
    return uri


def on_bucket(cfg: AppConfig, uri: str) -> AppConfig:
    """The same config with its data root (raw/ and clean/) at `uri`; state stays local."""
    paths = cfg.paths.model_copy(update={"data": uri, "raw": f"{uri}/raw", "clean": f"{uri}/clean"})
    return cfg.model_copy(update={"paths": paths})


def download(server: S3Server, bucket: str, prefix: str, dest: Path) -> Path:
    """Every object under s3://bucket/prefix/ as a file under dest/ (same relative keys)."""
    s3 = client(server)
    keys = {k: n for k, n in list_keys(server, bucket).items() if k.startswith(f"{prefix}/")}
    for key in keys:
        target = dest.joinpath(*key.removeprefix(f"{prefix}/").split("/"))
        target.parent.mkdir(parents=True, exist_ok=True)
        s3.download_file(bucket, key, str(target))
    got = {f"{prefix}/{p.relative_to(dest).as_posix()}": p.stat().st_size
           for p in dest.rglob("*") if p.is_file()}  # fmt: skip
    assert got == keys, "the local copy does not hold exactly the bucket's objects"
    return dest


def comparable(reply: Any) -> Any:
    """A tool's reply without its timings (they differ from call to call, not by the data)."""
    if isinstance(reply, dict):
        return {k: comparable(v) for k, v in reply.items() if k not in TIMING_KEYS}
    if isinstance(reply, list):
        return [comparable(v) for v in reply]
    return reply
