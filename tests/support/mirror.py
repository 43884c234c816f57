"""A local data tree put on the loopback S3 server, to compare readers local vs object store.

Each file goes through the data root's own writer (shared.datafs.write_bytes: one PUT),
and the bucket is then listed through the S3 API itself (boto3), so a copy that lost or
changed a file fails here, not later in a comparison.
"""

from __future__ import annotations

from pathlib import Path

from shared.config import AppConfig
from shared.datafs import data_root, list_files, write_bytes
from tests.support.s3 import S3Server, list_keys


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
