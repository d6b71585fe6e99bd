"""Logs on the loopback S3 server (``tests/s3server.py``) beside the same logs on disk.

Every test gets a fresh bucket (``s3_root``: ``s3://<bucket>/data``) and uploads a local
log into it with boto3, not with xle: what is read back from S3 was put there by an
independent client, byte for byte.
"""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.realdata import copy_log, require_real
from tests.s3server import s3_endpoint, s3_env, s3_root  # noqa: F401

#: The real Binance / Binance.US capture (two venues, four minutes): ``xle replay`` range.
REAL_FROM = "2021-10-12T00:24:00Z"
REAL_TO = "2021-10-12T00:30:00Z"


def _client():
    import boto3

    return boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])


def upload(local: Path, uri: str) -> None:
    """Every file under ``local`` to the same relative key under ``uri`` (s3://b/prefix)."""
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    client = _client()
    for path in sorted(local.rglob("*")):
        if path.is_file():
            key = f"{prefix}/{path.relative_to(local).as_posix()}".lstrip("/")
            client.upload_file(str(path), bucket, key)


def keys(uri: str) -> list[str]:
    """Every object under ``uri``, relative to it, sorted; without the empty ``folder/``
    markers pyarrow leaves when it deletes an object (it keeps the parent "folder")."""
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    pages = _client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    found = [o["Key"] for page in pages for o in page.get("Contents", [])]
    return sorted(k[len(prefix) + 1 :] for k in found if not k.endswith("/"))


def split_files(root: Path, parts: int = 3) -> None:
    """Cut every raw-log file into ``parts`` consecutive files of the same run, as a
    recorder rolling every few seconds would leave them (what compaction merges)."""
    for path in sorted((root / "raw").rglob("*.parquet")):
        table = pq.read_table(path)
        size = -(-table.num_rows // parts)
        stem = path.stem.rpartition("-")[0]
        path.unlink()
        for index in range(parts):
            chunk = table.slice(index * size, size)
            pq.write_table(chunk, path.with_name(f"{stem}-{index}.parquet"), compression="zstd")


@pytest.fixture
def real_local(tmp_path: Path) -> Path:
    """A writable copy of the real Binance / Binance.US capture on local disk."""
    return copy_log(require_real("real"), tmp_path / "local")


@pytest.fixture
def real_s3(real_local: Path, s3_root: str) -> str:  # noqa: F811 (the fixture)
    """The same capture uploaded to a fresh bucket: ``s3://<bucket>/data``."""
    upload(real_local, s3_root)
    return s3_root
