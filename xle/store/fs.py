"""Where a data root lives: a local directory or any pyarrow filesystem URI (``s3://``).

DESIGN: "Data roots are pyarrow filesystem URIs". Everything that opens, lists, writes
or deletes a file under a root goes through the :class:`DataRoot` built here, so the rest
of ``store/`` never parses a URI or knows which filesystem it is on. Local roots keep
their plain-path behaviour (fsync, atomic ``os.replace``, flock'd journal recovery);
object storage gets atomic single-PUT writes instead.

Credentials and the endpoint come only from the standard AWS environment variables
(``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
``AWS_DEFAULT_REGION``, ...). A URI that carries credentials (``s3://KEY:SECRET@bucket``)
or options in a query string is refused with a message that repeats neither, because
URIs end up in shell history, logs and error messages.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.fs as pafs

from xle.errors import DataError

__all__ = ["filesystem_of", "is_local_uri", "redact"]

# Short, bounded network behaviour: an unreachable endpoint must fail within seconds
# rather than hang a command on the SDK's long defaults.
_CONNECT_TIMEOUT_S = 2.0
_REQUEST_TIMEOUT_S = 10.0
_MAX_ATTEMPTS = 2

_WINDOWS_DRIVE_LEN = 1  # "C:\\..." parses as scheme "c"; a one-letter scheme is a drive


def _scheme(uri: str) -> str:
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if len(scheme) <= _WINDOWS_DRIVE_LEN:
        return ""
    return scheme


def is_local_uri(uri: str | os.PathLike[str]) -> bool:
    """True for a plain path or a ``file://`` URI: the root is a local directory."""
    return _scheme(os.fspath(uri)) in ("", "file")


def redact(uri: str) -> str:
    """``uri`` fit for a message: no userinfo, no query string, no fragment."""
    if is_local_uri(uri):
        return uri
    parts = urlsplit(uri)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}"


def _s3_filesystem() -> pafs.S3FileSystem:
    """An S3 filesystem configured only from the environment, with short timeouts."""
    options: dict[str, object] = {
        "connect_timeout": _CONNECT_TIMEOUT_S,
        "request_timeout": _REQUEST_TIMEOUT_S,
        "retry_strategy": pafs.AwsStandardS3RetryStrategy(max_attempts=_MAX_ATTEMPTS),
        "region": (
            os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or "us-east-1"
        ),
    }
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        parts = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
        if parts.username or parts.password or parts.query:
            raise DataError(
                "AWS_ENDPOINT_URL must be scheme://host[:port] without credentials or options"
            )
        options["endpoint_override"] = parts.netloc + parts.path.rstrip("/")
        options["scheme"] = parts.scheme or "https"
    return pafs.S3FileSystem(**options)  # type: ignore[arg-type]


def filesystem_of(uri: str) -> tuple[pafs.FileSystem, str]:
    """The pyarrow filesystem of a data root and the root's path inside it.

    ``uri`` is a local path (relative or absolute), ``file:///abs/path``, ``s3://bucket/prefix``
    or any other URI pyarrow understands. Local paths come back absolute for
    ``LocalFileSystem``; an S3 path comes back as ``bucket/prefix`` without a trailing slash.
    Raises :class:`DataError` (one line, never echoing credentials) for a URI that embeds
    credentials or options, an empty bucket, or a scheme pyarrow does not know.
    """
    text = os.fspath(uri)
    scheme = _scheme(text)
    if scheme == "":
        return pafs.LocalFileSystem(), os.path.abspath(text)
    parts = urlsplit(text)
    if parts.username is not None or parts.password is not None:
        raise DataError(
            f"data root {scheme}://… embeds credentials; remove them from the URI and set "
            "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY in the environment instead"
        )
    if parts.query or parts.fragment:
        raise DataError(
            f"data root {redact(text)}: options in the URI are not accepted; "
            "configure the endpoint and credentials through the AWS_* environment variables"
        )
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise DataError(f"data root {text}: file:// URIs must name a local absolute path")
        return pafs.LocalFileSystem(), os.path.abspath(parts.path or "/")
    if scheme in ("s3", "s3a"):
        bucket = parts.netloc
        if not bucket:
            raise DataError(f"data root {redact(text)}: no bucket (expected s3://bucket/prefix)")
        path = f"{bucket}/{parts.path.strip('/')}".rstrip("/")
        return _s3_filesystem(), path
    try:
        filesystem, path = pafs.FileSystem.from_uri(text)
    except (pa.ArrowException, ValueError, OSError) as exc:
        raise DataError(
            f"data root {redact(text)}: unknown or unsupported filesystem scheme {scheme!r} "
            f"({type(exc).__name__}); use a local path or s3://bucket/prefix"
        ) from None
    return filesystem, path.rstrip("/")
