"""Which data roots are accepted, and how a bad one is refused (``xle.store.fs``)."""

from __future__ import annotations

from pathlib import Path

import pyarrow.fs as pafs
import pytest

from tests.clirunner import Cli
from xle.errors import DataError
from xle.store.fs import ObjectPath, as_root, filesystem_of
from xle.store.paths import data_root


def test_a_local_path_is_the_local_filesystem_and_an_absolute_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    filesystem, path = filesystem_of("data")
    assert isinstance(filesystem, pafs.LocalFileSystem)
    assert path == str(tmp_path / "data")


def test_a_path_with_a_colon_is_still_a_local_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert data_root("backup:2024/data") == Path("backup:2024/data")
    assert filesystem_of("backup:2024")[1] == str(tmp_path / "backup:2024")


def test_a_file_uri_is_a_local_root(tmp_path):
    filesystem, path = filesystem_of(f"file://{tmp_path}/data")
    assert isinstance(filesystem, pafs.LocalFileSystem)
    assert path == f"{tmp_path}/data"
    assert as_root(f"file://{tmp_path}/data") == tmp_path / "data"


def test_an_s3_uri_is_bucket_and_prefix_on_s3(s3_env):
    filesystem, path = filesystem_of("s3://bucket/some/prefix/")
    assert isinstance(filesystem, pafs.S3FileSystem)
    assert path == "bucket/some/prefix"


def test_data_root_keeps_local_paths_as_given_and_turns_uris_into_object_paths(s3_env):
    assert data_root("data") == Path("data")
    root = data_root("s3://bucket/data")
    assert isinstance(root, ObjectPath)
    assert str(root / "raw") == "s3://bucket/data/raw"


def test_xle_data_may_be_a_uri(s3_env, monkeypatch):
    monkeypatch.setenv("XLE_DATA", "s3://bucket/from-env")
    assert str(data_root()) == "s3://bucket/from-env"


def test_a_uri_with_credentials_is_refused_without_repeating_them():
    with pytest.raises(DataError) as caught:
        filesystem_of("s3://AKIDEXAMPLE:wJalrXUtnFEMI@bucket/data")
    message = str(caught.value)
    assert "AKIDEXAMPLE" not in message and "wJalrXUtnFEMI" not in message
    assert "AWS_ACCESS_KEY_ID" in message


def test_a_uri_with_a_query_string_is_refused_without_repeating_it():
    with pytest.raises(DataError) as caught:
        filesystem_of("s3://bucket/data?secret_key=wJalrXUtnFEMI&region=x")
    assert "wJalrXUtnFEMI" not in str(caught.value)
    assert "s3://bucket/data" in str(caught.value)


def test_an_unknown_scheme_is_one_line_naming_it():
    with pytest.raises(DataError, match="unknown or unsupported filesystem scheme 'gopher'"):
        filesystem_of("gopher://host/data")


def test_the_cli_refuses_credentials_in_the_uri_in_one_line_without_echoing_them(s3_env):
    result = Cli()("query", "select 1", "--data", "s3://AKIDEXAMPLE:wJalrXUtnFEMI@bucket/data")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert "wJalrXUtnFEMI" not in result.stderr + result.stdout
    assert "AKIDEXAMPLE" not in result.stderr + result.stdout


def test_the_cli_names_an_unknown_scheme_in_one_line(tmp_path):
    result = Cli()("replay", "--from", "2021-10-12", "--to", "2021-10-13", "--data", "gopher://x/y")
    assert result.exit_code == 2
    assert "unknown or unsupported filesystem scheme 'gopher'" in result.stderr
    assert result.stderr.count("\n") == 1


def test_an_endpoint_with_credentials_in_it_is_refused_without_repeating_them(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://AKIDEXAMPLE:wJalrXUtnFEMI@127.0.0.1:9000")
    with pytest.raises(DataError) as caught:
        filesystem_of("s3://bucket/data")
    assert "wJalrXUtnFEMI" not in str(caught.value)
    assert "AWS_ENDPOINT_URL" in str(caught.value)
