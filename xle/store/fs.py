"""Where a data root lives: a local directory or any pyarrow filesystem URI (``s3://``).

See docs/design.md, "Object storage". ``filesystem_of(uri)`` turns a root into a pyarrow
``FileSystem`` and a path; ``as_root`` (behind ``xle.store.paths.data_root``) gives the
store a plain ``Path`` for a local root, so local behaviour and speed stay exactly as
they were (fsync, atomic ``os.replace``, flock'd journal recovery), or an ``ObjectPath``
for anything else: the same walking interface over the filesystem. The rest of
``store/`` never parses a URI; it asks ``is_remote`` where a local step (fsync, rename,
flock, journals) has no equivalent, and ``arrow_source`` for pyarrow's readers/writers.

Credentials and the endpoint come only from the standard AWS environment variables
(``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
``AWS_DEFAULT_REGION``, ...). A URI that carries credentials (``s3://KEY:SECRET@bucket``)
or options in a query string is refused with a message that repeats neither, because
URIs end up in shell history, logs and error messages.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from xle.errors import DataError

__all__ = [
    "ObjectPath",
    "StorePath",
    "arrow_source",
    "as_root",
    "check_reachable",
    "describe_contents",
    "filesystem_of",
    "is_local_uri",
    "is_remote",
    "parquet_file",
    "parquet_writer",
    "read_source",
    "redact",
    "replace",
    "storage_error",
]

# Short, bounded network behaviour: an unreachable endpoint must fail within seconds
# rather than hang a command on the SDK's long defaults.
_CONNECT_TIMEOUT_S = 2.0
_REQUEST_TIMEOUT_S = 3.0  # of silence: the SDK applies it as an inactivity limit
_MAX_ATTEMPTS = 2


def _scheme(uri: str) -> str:
    """The URI scheme of a root, or "" for a plain path (``backup:2024/data`` included:
    only ``scheme://`` makes a URI)."""
    if "://" not in uri:
        return ""
    return urlsplit(uri).scheme.lower()


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
            raise DataError("a file:// data root must name a local path: file:///abs/path")
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


# --------------------------------------------------------------------------- paths


class ObjectPath:
    """A file or folder under a data root on a pyarrow filesystem (``s3://``), with the
    part of ``pathlib.Path``'s interface that ``store/`` uses.

    Why a path look-alike instead of a new API: the store's modules walk the tree with
    ``/``, ``name``, ``iterdir``, ``is_dir`` and friends; on a local root they keep using
    plain ``Path`` (today's behaviour and speed), and on object storage the same code
    runs on these. ``str()`` is the URI (``s3://bucket/data/raw/...``, never credentials),
    so messages name objects the way a user would. Folders on object storage are only
    key prefixes: ``mkdir`` does nothing and a folder exists while a key is under it.
    A listing may be attached (``_children``) by ``xle.store.listing`` after one
    recursive listing of a whole prefix, so that ``iterdir`` needs no further request.
    """

    __slots__ = ("_children", "_kind", "fs", "key", "scheme")

    def __init__(self, fs: pafs.FileSystem, key: str, scheme: str = "s3") -> None:
        self.fs = fs
        self.key = key.strip("/")
        self.scheme = scheme
        self._children: list[ObjectPath] | None = None
        self._kind: str | None = None  # "dir", "file" or "missing" once listed

    # -- pure path operations
    def _make(self, key: str) -> ObjectPath:
        return ObjectPath(self.fs, key, self.scheme)

    def __truediv__(self, other: str | os.PathLike[str]) -> ObjectPath:
        part = os.fspath(other).strip("/")
        return self._make(f"{self.key}/{part}" if part else self.key)

    def __str__(self) -> str:
        return f"{self.scheme}://{self.key}"

    def __repr__(self) -> str:
        return f"ObjectPath({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ObjectPath) and other.key == self.key

    def __hash__(self) -> int:
        return hash(("ObjectPath", self.key))

    def __lt__(self, other: ObjectPath) -> bool:
        return self.parts < other.parts

    def as_posix(self) -> str:
        return str(self)

    @property
    def name(self) -> str:
        return self.key.rpartition("/")[2]

    @property
    def suffix(self) -> str:
        name = self.name
        dot = name.rfind(".")
        return name[dot:] if 0 < dot < len(name) - 1 else ""

    @property
    def stem(self) -> str:
        suffix = self.suffix
        return self.name[: -len(suffix)] if suffix else self.name

    @property
    def parts(self) -> tuple[str, ...]:
        return tuple(self.key.split("/"))

    @property
    def parent(self) -> ObjectPath:
        return self._make(self.key.rpartition("/")[0] or self.key)

    def with_name(self, name: str) -> ObjectPath:
        return self.parent / name

    def relative_to(self, other: ObjectPath | str) -> PurePosixPath:
        base = other.key if isinstance(other, ObjectPath) else str(other).strip("/")
        if self.key == base:
            return PurePosixPath(".")
        if not self.key.startswith(base + "/"):
            raise ValueError(f"{self} is not under {other}")
        return PurePosixPath(self.key[len(base) + 1 :])

    # -- filesystem operations
    def _info(self) -> pafs.FileInfo:
        return self.fs.get_file_info(self.key)

    def exists(self) -> bool:
        if self._kind is not None:
            return self._kind != "missing"
        return self._info().type != pafs.FileType.NotFound

    def is_dir(self) -> bool:
        if self._kind is not None:
            return self._kind == "dir"
        return self._info().type == pafs.FileType.Directory

    def is_file(self) -> bool:
        if self._kind is not None:
            return self._kind == "file"
        return self._info().type == pafs.FileType.File

    def iterdir(self) -> Iterator[ObjectPath]:
        """The entries right under this folder (``FileNotFoundError`` if there are none),
        each knowing whether it is a file or a folder (no request per entry after)."""
        if self._kind == "missing":
            raise FileNotFoundError(str(self))
        if self._children is not None:
            return iter(list(self._children))
        infos = self.fs.get_file_info(pafs.FileSelector(self.key, allow_not_found=True))
        if not infos:
            raise FileNotFoundError(str(self))
        children = []
        for info in infos:
            child = self._make(info.path)
            child._kind = "dir" if info.type == pafs.FileType.Directory else "file"
            children.append(child)
        return iter(children)

    def walk_files(self) -> list[ObjectPath]:
        """Every file under this folder, in one recursive listing (none if it is missing)."""
        selector = pafs.FileSelector(self.key, recursive=True, allow_not_found=True)
        infos = self.fs.get_file_info(selector)
        return [self._make(i.path) for i in infos if i.type == pafs.FileType.File]

    def listed(self) -> ObjectPath:
        """This folder with its whole subtree listed in one recursive request: ``iterdir``,
        ``is_dir`` and ``exists`` on it and on the folders reached from it through
        ``iterdir`` answer from that listing (a snapshot; a fresh ``root / sub`` asks again).
        """
        root = self._make(self.key)
        files = root.walk_files()
        root._children = []
        # A folder known from its parent's listing stays one when it holds only the empty
        # "folder/" markers pyarrow leaves behind deletes.
        root._kind = "dir" if files or self._kind == "dir" else "missing"
        folders = {root.key: root}
        for file in files:
            file._kind = "file"
            parent = root
            key = root.key
            for part in file.key[len(root.key) + 1 :].split("/")[:-1]:
                key = f"{key}/{part}"
                folder = folders.get(key)
                if folder is None:
                    folder = folders[key] = self._make(key)
                    folder._children = []
                    folder._kind = "dir"
                    assert parent._children is not None
                    parent._children.append(folder)
                parent = folder
            assert parent._children is not None
            parent._children.append(file)
        return root

    def fresh(self) -> ObjectPath:
        """This path without an attached listing: the next question asks the store."""
        return self._make(self.key)

    def glob(self, pattern: str) -> Iterator[ObjectPath]:
        """Files and folders under this one whose relative key matches ``pattern`` part by
        part (``*`` within one part, as ``Path.glob`` without ``**``), sorted; one
        recursive listing."""
        wanted = pattern.strip("/").split("/")
        found: dict[tuple[str, ...], str] = {}
        for path in self.walk_files():
            rel = path.relative_to(self).parts
            if len(rel) == len(wanted):
                found[rel] = "file"
            elif len(rel) > len(wanted):
                found.setdefault(rel[: len(wanted)], "dir")
        for rel in sorted(found):
            if all(map(fnmatchcase, rel, wanted)):
                match = self._make("/".join((self.key, *rel)))
                match._kind = found[rel]
                yield match

    def rglob(self, pattern: str) -> Iterator[ObjectPath]:
        """Files at any depth under this folder whose name matches ``pattern``."""
        for path in self.walk_files():
            if fnmatchcase(path.name, pattern):
                yield path

    def mkdir(self, parents: bool = False, exist_ok: bool = False) -> None:
        """Nothing to do: a folder on object storage is the prefix of its keys."""

    def unlink(self, missing_ok: bool = False) -> None:
        try:
            self.fs.delete_file(self.key)
        except FileNotFoundError:
            if not missing_ok:
                raise

    def read_bytes(self) -> bytes:
        with self.fs.open_input_stream(self.key) as stream:
            return stream.read()

    def write_bytes(self, data: bytes) -> int:
        """One PUT of the whole object: it appears complete or not at all."""
        with self.fs.open_output_stream(self.key) as out:
            out.write(data)
        return len(data)


#: A data root or a path under one: a local ``Path`` or an ``ObjectPath``.
StorePath = Path | ObjectPath


def is_remote(path: object) -> bool:
    """True for a path on object storage (no local fsync, rename or flock there)."""
    return isinstance(path, ObjectPath)


def as_root(root: str | os.PathLike[str] | ObjectPath) -> Path | ObjectPath:
    """A data root given as a path, a ``Path``, a URI or an ``ObjectPath``, as the store
    uses it: ``Path`` for a local root (relative paths stay relative, as today), else an
    ``ObjectPath`` (raises ``DataError`` for a bad URI, see ``filesystem_of``)."""
    if isinstance(root, (ObjectPath, Path)):
        return root
    text = os.fspath(root)
    if is_local_uri(text):
        if _scheme(text) == "file":
            return Path(filesystem_of(text)[1])
        return Path(text)
    filesystem, key = filesystem_of(text)
    return ObjectPath(filesystem, key, _scheme(text))


def arrow_source(path: StorePath) -> tuple[str, pafs.FileSystem | None]:
    """``(where, filesystem)`` for pyarrow's readers and writers (``pq.ParquetFile(where,
    filesystem=...)``): a local path goes in as before, with no filesystem."""
    if isinstance(path, ObjectPath):
        return path.key, path.fs
    return os.fspath(path), None


# --------------------------------------------------------------------------- errors

_DENIED = (
    "ACCESS_DENIED",
    "AccessDenied",
    "INVALID_ACCESS_KEY_ID",
    "InvalidAccessKeyId",
    "SIGNATURE_DOES_NOT_MATCH",
    "SignatureDoesNotMatch",
    "HTTP response code: 403",
)
_UNREACHABLE = (
    "NETWORK_CONNECTION",
    "curlCode",
    "Could not resolve",
    "Couldn't connect",
    "Connection refused",
    "Timeout",
    "No response body",  # nothing answered: a real S3 error always has a body
    "timed out",
)
_NO_CREDENTIALS = ("No credentials", "NO_CREDENTIALS", "credentials provider")


def _endpoint() -> str:
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    return redact(endpoint) if endpoint else "the default AWS endpoint"


def storage_error(exc: BaseException, where: ObjectPath) -> DataError:
    """A one-line ``DataError`` for a failed request to object storage, by cause.

    pyarrow reports S3 failures as multi-line ``OSError``s naming the SDK's error; the
    user needs the cause (no such bucket, access denied, endpoint unreachable) and the
    variable to fix, never the SDK's text (and never a credential, which it does not
    hold anyway).
    """
    text = str(exc)
    bucket = where.key.partition("/")[0]
    if any(mark in text for mark in _NO_CREDENTIALS):
        return DataError(
            f"no credentials for {where.scheme}://{bucket}: set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)"
        )
    if any(mark in text for mark in _DENIED):
        return DataError(
            f"access denied to {where.scheme}://{bucket} at {_endpoint()}: check "
            "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY and the bucket's permissions"
        )
    if "NoSuchBucket" in text or "NO_SUCH_BUCKET" in text:
        return DataError(f"bucket {bucket!r} does not exist at {_endpoint()}")
    if any(mark in text for mark in _UNREACHABLE):
        return DataError(
            f"cannot reach the object store at {_endpoint()} for {where.scheme}://{bucket}: "
            "check AWS_ENDPOINT_URL and the network"
        )
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return DataError(f"object storage error on {where}: {first}")


def check_reachable(root: ObjectPath) -> None:
    """Fail early, in one line and within seconds, when ``root`` cannot be read: no such
    bucket, access denied, no credentials or endpoint unreachable. One listing of the
    root's own folder (a few keys), not of the whole bucket; an empty root passes (the
    caller says what it lacks)."""
    try:
        root.fs.get_file_info(pafs.FileSelector(root.key))
    except FileNotFoundError:
        return
    except OSError as exc:
        raise storage_error(exc, root) from None


def describe_contents(directory: StorePath) -> str:
    """What a folder holds, for an error about a missing raw log: ``it holds derived/,
    notes.txt`` or ``it is empty``."""
    try:
        names = sorted((f"{p.name}/" if p.is_dir() else p.name) for p in directory.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return "it is empty"
    if not names:
        return "it is empty"
    shown = ", ".join(names[:8]) + (", …" if len(names) > 8 else "")
    return f"it holds {shown}"


# --------------------------------------------------------------------------- files


#: Objects up to this size are fetched whole when a reader opens them (see ``read_source``).
WHOLE_OBJECT_BYTES = 256 << 20


def read_source(path: StorePath) -> tuple[str | pa.BufferReader, pafs.FileSystem | None]:
    """``(source, filesystem)`` for ``pq.ParquetFile`` of a file the reader streams.

    Local: the path, as before. On object storage an object of up to
    ``WHOLE_OBJECT_BYTES`` is fetched whole, in one GET: an open local file survives a
    concurrent compaction deleting it, and so does this copy (read in ranges, the rest of
    a deleted object would be gone); it is also one request instead of one per buffered
    read. A larger object is read in ranges through the filesystem.
    """
    if not isinstance(path, ObjectPath):
        return os.fspath(path), None
    with path.fs.open_input_file(path.key) as handle:
        if handle.size() <= WHOLE_OBJECT_BYTES:
            return pa.BufferReader(handle.read_buffer()), None
    return path.key, path.fs


def replace(source: StorePath, target: StorePath) -> None:
    """Publish ``source`` (a hidden temporary) under the name ``target``.

    Local: ``os.replace``, atomic. Object storage has no rename: the store copies the
    object server-side (``target`` appears whole or not at all, as with any PUT) and
    then deletes ``source``.
    """
    if isinstance(source, ObjectPath) and isinstance(target, ObjectPath):
        source.fs.move(source.key, target.key)
        return
    if isinstance(source, ObjectPath) or isinstance(target, ObjectPath):
        raise ValueError(f"cannot move {source} to {target}: different filesystems")
    os.replace(source, target)


def parquet_file(path: StorePath, **options: object) -> pq.ParquetFile:
    """``pq.ParquetFile`` of a local or object-storage path (same ``options``)."""
    where, filesystem = arrow_source(path)
    return pq.ParquetFile(where, filesystem=filesystem, **options)  # type: ignore[arg-type]


def parquet_writer(path: StorePath, schema: pa.Schema, **options: object) -> pq.ParquetWriter:
    """``pq.ParquetWriter`` onto a local or object-storage path. On object storage the
    object appears only when the writer is closed (one upload, complete or absent)."""
    where, filesystem = arrow_source(path)
    return pq.ParquetWriter(where, schema, filesystem=filesystem, **options)  # type: ignore[arg-type]
