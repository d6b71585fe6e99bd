"""Object storage that cannot be used: one line on stderr, exit 2, never a traceback."""

from __future__ import annotations

import socket

import pytest

import xle
from tests.clirunner import Cli
from tests.s3.conftest import upload

cli = Cli()
RANGE = ("--from", "2021-10-12T00:24:00Z", "--to", "2021-10-12T00:30:00Z")


def _one_line_error(result) -> str:
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    return result.stderr


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize(
    "command",
    [("replay", *RANGE), ("query", "SELECT count(*) FROM raw"), ("compact",), ("audit",)],
)
def test_a_missing_bucket_is_named(s3_root, command):
    missing = s3_root.replace("xle-test-", "no-such-bucket-")
    message = _one_line_error(cli(*command, "--data", missing))
    assert "bucket 'no-such-bucket-" in message and "does not exist" in message


def test_refused_credentials_say_access_denied_and_which_variables(s3_root, monkeypatch):
    import moto.settings

    monkeypatch.setattr(moto.settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)  # check keys
    message = _one_line_error(cli("replay", *RANGE, "--data", s3_root))
    assert "access denied" in message and "AWS_ACCESS_KEY_ID" in message
    assert "xle-test-secret" not in message


def test_an_unreachable_endpoint_is_named(s3_root, monkeypatch):
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    message = _one_line_error(cli("query", "SELECT 1", "--data", s3_root))
    assert f"cannot reach the object store at {endpoint}" in message


def test_an_empty_prefix_says_it_is_empty(s3_root):
    message = _one_line_error(cli("replay", *RANGE, "--data", s3_root))
    assert f"no raw log in {s3_root} (expected {s3_root}/raw); it is empty" in message


def test_a_root_without_raw_log_says_what_it_holds(s3_root, tmp_path):
    (tmp_path / "derived" / "quotes").mkdir(parents=True)
    (tmp_path / "derived" / "quotes" / "x.parquet").write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("hello")
    upload(tmp_path, s3_root)
    book = ("book", "-e", "binance", "-s", "X", "--at", "2021-10-12T00:30:00Z")
    message = _one_line_error(cli(*book, "--data", s3_root))
    assert "it holds derived/, notes.txt" in message


def test_xle_open_raises_the_same_one_line_error(s3_root):
    with pytest.raises(xle.DataError, match="it is empty"):
        xle.open(s3_root)
    with pytest.raises(xle.DataError, match="does not exist"):
        xle.open(s3_root.replace("xle-test-", "no-such-bucket-"))
