"""A real S3 API on loopback for the object-storage tests: moto's ``ThreadedMotoServer``.

pyarrow's ``S3FileSystem``, boto3 and any ``xle`` subprocess reach it over HTTP on
127.0.0.1 through the standard AWS environment variables, exactly as they would reach a
real endpoint; nothing leaves the machine. Import the fixtures into a test module or a
conftest: ``from tests.s3server import s3_endpoint, s3_env, s3_root  # noqa: F401``.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator

import pytest

_BUCKETS = itertools.count()


def aws_env(endpoint: str) -> dict[str, str]:
    """The AWS variables that point pyarrow, boto3 and ``xle`` at the loopback server."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "xle-test-key",
        "AWS_SECRET_ACCESS_KEY": "xle-test-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "NO_PROXY": "127.0.0.1",
    }


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """``http://127.0.0.1:PORT`` of one moto server for the whole session."""
    moto_server = pytest.importorskip("moto.server", reason="moto[server] is in the dev extra")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_env(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The AWS variables pointing at the loopback server, set for this test and its children."""
    env = aws_env(s3_endpoint)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
    return env


@pytest.fixture
def s3_root(s3_env: dict[str, str]) -> str:
    """``s3://<fresh bucket>/data``: an empty data root of its own for each test."""
    import boto3

    bucket = f"xle-test-{next(_BUCKETS)}"
    boto3.client("s3", endpoint_url=s3_env["AWS_ENDPOINT_URL"]).create_bucket(Bucket=bucket)
    return f"s3://{bucket}/data"
