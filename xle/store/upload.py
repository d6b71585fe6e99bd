"""Recording into object storage: a local staging root whose rolled files are uploaded.

Why stage locally: an object store has no append, no fsync and no rename, so the
recorder's durability story (an fsynced journal, Parquet written to a temporary name and
renamed) needs a local disk. With ``xle record --data s3://bucket/prefix`` the recorder
writes exactly as it does into a local root, but into a *staging root* (``--journal-dir``,
default ``default_journal_dir(uri)`` under the user's cache directory); an ``Uploader``
thread PUTs every rolled Parquet file as one object at the same relative key under the
remote root and only then deletes the local copy::

    <staging>/raw/exchange=binance/date=2026-12-04/hour=13/<run>-000003.parquet
      -> s3://bucket/prefix/raw/exchange=binance/date=2026-12-04/hour=13/<run>-000003.parquet

Why nothing is lost or duplicated, whatever crashes when:

1. A PUT is atomic: the object appears complete or not at all. Its size is checked
   against the local file before the local file is deleted, so a local file is deleted
   only once its object is in place.
2. Object keys are pure functions of (run, segment, partition), like the local names.
   A crash between the PUT and the local delete leaves the file staged; the next upload
   PUTs the same bytes to the same key, replacing the object with an identical one.
3. A crash before a roll leaves a journal: ``recover_remote`` converts it to Parquet
   with the local recovery (``recover_journals`` on the staging root) and uploads it.
4. A failing upload keeps the local file and is retried with exponential backoff; it
   never blocks capture (the recorder only appends to its journal).

Ownership when several recorders share one staging root (shards on one machine): the
live uploader of a run holds an exclusive ``flock`` on ``<staging>/uploads/<run>.lock``
and uploads only that run's files; a recovery uploads the files of runs whose lock is
free (dead). Uploads are idempotent anyway, so a race costs one redundant PUT.

Credentials and the endpoint come only from the standard AWS environment variables; no
message here repeats them (URIs are shown without userinfo or query).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pyarrow.fs as pafs

from xle.errors import DataError
from xle.store.fs import filesystem_of, is_local_uri, redact
from xle.store.layout import fsync_dir, is_log_file, parse_partition
from xle.store.paths import raw_dir
from xle.store.writer import RunLock, recover_journals

__all__ = [
    "RemoteRecovery",
    "UploadStats",
    "Uploader",
    "default_journal_dir",
    "is_remote_root",
    "prune_empty_partitions",
    "recover_remote",
    "redact_uri",
    "staged_files",
]

#: Folder of the per-run upload locks inside a staging root (next to ``raw/``).
_UPLOADS = "uploads"
_STAGED_NAME = re.compile(r"^(?P<run>.+)-(?P<segment>\d+)\.parquet$")
#: Empty staging partition folders are removed once their hour ended this long ago: no
#: writer rolls records that old into them any more, and a long recording would
#: otherwise leave one folder per venue and hour for every poll to walk.
_PRUNE_AFTER_NS = 2 * 3600 * 1_000_000_000
_PRUNE_EVERY_S = 60.0


# --------------------------------------------------------------------------- roots


def is_remote_root(root: object) -> bool:
    """True for a data root on a non-local filesystem: a URI such as ``s3://bucket/prefix``
    or a path object whose ``str`` is one (not a local ``Path``)."""
    if isinstance(root, Path):
        return False
    text = os.fspath(root) if isinstance(root, (str, os.PathLike)) else str(root)
    return not is_local_uri(text)


def redact_uri(uri: str) -> str:
    """``uri`` fit for a message or a status line: no userinfo, query or fragment."""
    return redact(uri).rstrip("/")


def default_journal_dir(uri: str) -> Path:
    """Where ``xle record --data URI`` stages its journal and rolled files by default:
    ``$XDG_CACHE_HOME/xle/journal/<hash of the URI>`` (``~/.cache`` without it), so that
    a restart against the same root finds what a crashed run left behind."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    digest = hashlib.sha256(redact_uri(uri).encode()).hexdigest()[:16]
    return Path(cache) / "xle" / "journal" / digest


#: Environment variables whose values never appear in a message, even when an SDK error
#: repeats one (an access key id in an "invalid key" answer).
_SECRET_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


def _first_line(exc: BaseException) -> str:
    """The first line of an error, with any credential from the environment masked."""
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    for name in _SECRET_VARIABLES:
        value = os.environ.get(name)
        if value and len(value) >= 4:
            line = line.replace(value, "***")
    return line


# --------------------------------------------------------------------------- staged files


def staged_files(staging: Path, run: str | None = None) -> list[Path]:
    """The rolled Parquet files waiting in a staging root (of one run, or all), in name
    order; temporaries of a roll in progress are not included."""
    raw = raw_dir(Path(staging))
    if not raw.is_dir():
        return []
    found = []
    for path in raw.glob("exchange=*/date=*/hour=*/*.parquet"):
        if not is_log_file(path):
            continue
        match = _STAGED_NAME.match(path.name)
        if match is None or (run is not None and match["run"] != run):
            continue
        found.append(path)
    return sorted(found)


def prune_empty_partitions(staging: Path, now_ns: int | None = None) -> int:
    """Remove the empty hour folders of a staging root whose hour ended more than two
    hours before ``now_ns`` (and their day's folder once that day is as old); returns
    how many hour folders went."""
    raw = raw_dir(Path(staging))
    if not raw.is_dir():
        return 0
    cutoff = (time.time_ns() if now_ns is None else now_ns) - _PRUNE_AFTER_NS
    removed = 0
    for hour_dir in sorted(raw.glob("exchange=*/date=*/hour=*")):
        partition = parse_partition(hour_dir)
        if partition is None or partition.end_ns > cutoff:
            continue
        try:
            hour_dir.rmdir()  # only when empty
        except OSError:
            continue
        removed += 1
        # The day's folder too once the whole day is that old: no writer is creating an
        # hour in it then. Exchange folders stay (a writer may be creating a day).
        day_end = partition.start_ns - partition.hour * 3600 * 1_000_000_000 + 24 * 3600 * 10**9
        if day_end <= cutoff:
            with contextlib.suppress(OSError):
                hour_dir.parent.rmdir()
    return removed


def _run_of(path: Path) -> str:
    match = _STAGED_NAME.match(path.name)
    assert match is not None
    return match["run"]


def _upload_lock(staging: Path, run: str) -> RunLock | None:
    """An exclusive ``flock`` on ``<staging>/uploads/<run>.lock``: held by the live
    uploader of a run, so a recovery elsewhere leaves its files alone (None: held)."""
    folder = Path(staging) / _UPLOADS
    folder.mkdir(parents=True, exist_ok=True)
    return RunLock.try_acquire(folder, run)


# --------------------------------------------------------------------------- uploader


@dataclass
class UploadStats:
    """Counters of one ``Uploader`` (``Uploader.stats`` returns a copy)."""

    uploaded: int = 0  # files uploaded (and deleted locally)
    bytes: int = 0  # bytes of those files
    failures: int = 0  # upload attempts that failed
    waiting: int = 0  # staged files not uploaded yet, at the last pass
    last_error: str = ""  # the last failure, one line, empty after a success

    def as_dict(self) -> dict[str, object]:
        return {
            "uploaded": self.uploaded,
            "bytes": self.bytes,
            "failures": self.failures,
            "waiting": self.waiting,
            "last_error": self.last_error,
        }


class Uploader:
    """Uploads rolled Parquet files from a staging root to a remote root, then deletes them.

    ``run`` set: the live uploader of that run (``start`` takes its upload lock, a
    background thread uploads its files as they appear, ``close`` does a final pass).
    ``run`` None: every staged file of a run whose upload lock is free (``upload_all``,
    what recovery does). Each failed file waits ``backoff_initial`` seconds, doubling up
    to ``backoff_max``, before its next attempt; the live thread keeps trying for as long
    as the recording lasts, ``upload_all`` and ``close`` stop after ``attempts``.
    """

    def __init__(
        self,
        staging: Path,
        uri: str,
        *,
        run: str | None = None,
        poll_seconds: float = 0.5,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        attempts: int = 3,
        filesystem: tuple[pafs.FileSystem, str] | None = None,
    ) -> None:
        self.staging = Path(staging)
        self.uri = uri
        self.where = redact_uri(uri)
        self.run = run
        self.poll_seconds = poll_seconds
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.attempts = max(1, attempts)
        self._fs, self._prefix = filesystem or filesystem_of(uri)
        self._stats = UploadStats()
        self._stats_lock = threading.Lock()
        self._retry_at: dict[Path, tuple[float, float]] = {}  # path -> (when, next delay)
        self._lock: RunLock | None = None
        self._held: dict[str, RunLock] = {}  # recovery: upload locks of dead runs
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ public

    @property
    def stats(self) -> UploadStats:
        with self._stats_lock:
            return replace(self._stats)

    def key_of(self, path: Path) -> str:
        """The object key of a staged file: the same relative path under the remote root."""
        rel = Path(path).relative_to(self.staging).as_posix()
        return f"{self._prefix}/{rel}" if self._prefix else rel

    def check_reachable(self) -> None:
        """Fail now, in one line, when the remote root cannot be listed (no bucket, access
        denied, endpoint unreachable) rather than after a minute of recording."""
        bucket = self._prefix.partition("/")[0]
        try:
            found = self._fs.get_file_info(bucket).type != pafs.FileType.NotFound
            self._fs.get_file_info(pafs.FileSelector(self._prefix, allow_not_found=True))
        except OSError as exc:
            raise DataError(
                f"cannot reach {self.where}: {_first_line(exc)} "
                "(check the bucket and the AWS_* environment variables)"
            ) from None
        if not found:
            raise DataError(f"bucket {bucket!r} of {self.where} does not exist")

    def start(self) -> None:
        """Take the run's upload lock and start the background thread (``run`` set)."""
        if self.run is None:
            raise ValueError("only the uploader of one run runs in the background")
        lock = _upload_lock(self.staging, self.run)
        if lock is None:
            raise DataError(f"run {self.run!r} is already being uploaded from {self.staging}")
        self._lock = lock
        self._thread = threading.Thread(
            target=self._loop, name=f"xle-upload-{self.run}", daemon=True
        )
        self._thread.start()

    def wake(self) -> None:
        """Look for new files now instead of at the next poll."""
        self._wake.set()

    def close(self, timeout: float | None = None) -> UploadStats:
        """Stop the thread after final passes over what waits: up to ``attempts``, or one
        when the store was failing already; what still fails stays staged
        (``stats.waiting``) for the next recovery."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._lock is not None and (self._thread is None or not self._thread.is_alive()):
            self._lock.release(remove=True)
            self._lock = None
        return self.stats

    def upload_all(self) -> UploadStats:
        """Upload every staged file of a dead (or this) run, up to ``attempts`` tries each,
        with backoff between them; returns the counters (``waiting`` what is left)."""
        try:
            self._passes(self.attempts)
        finally:
            self._release_held()
        self._count_waiting()
        return self.stats

    # ------------------------------------------------------------------ internals

    def _pending(self) -> list[Path]:
        files = staged_files(self.staging, self.run)
        if self.run is not None:
            return files
        # Recovery: the files of runs whose upload lock is free, held until we are done.
        for run in sorted({_run_of(path) for path in files} - set(self._held)):
            lock = _upload_lock(self.staging, run)
            if lock is not None:
                self._held[run] = lock
        return [path for path in files if _run_of(path) in self._held]

    def _release_held(self) -> None:
        for lock in self._held.values():
            lock.release(remove=True)
        self._held.clear()

    def _count_waiting(self) -> None:
        waiting = len(staged_files(self.staging, self.run))
        with self._stats_lock:
            self._stats.waiting = waiting

    def _sleep_until_due(self) -> None:
        if not self._retry_at:
            return
        due = min(when for when, _ in self._retry_at.values())
        delay = max(0.0, due - time.monotonic())
        if delay:
            time.sleep(delay)

    def _upload_one(self, path: Path) -> bool:
        """PUT one staged file, check the object's size, delete the local file.

        Any failure (reading the file, the PUT, the check, the delete) leaves the file
        staged and schedules its next attempt after the backoff; it never raises.
        """
        retry = self._retry_at.get(path)
        if retry is not None and time.monotonic() < retry[0]:
            return False
        key = self.key_of(path)
        try:
            try:
                data = path.read_bytes()
            except FileNotFoundError:  # uploaded meanwhile by a recovery (same bytes)
                self._retry_at.pop(path, None)
                return True
            # One write of the whole file: a failure can leave no partial object behind.
            with self._fs.open_output_stream(key) as out:
                out.write(data)
            info = self._fs.get_file_info(key)
            if info.size != len(data):
                raise OSError(f"object {key} has {info.size} bytes after upload, not {len(data)}")
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        except Exception as exc:  # whatever failed, the file waits and is retried
            delay = self._retry_at.get(path, (0.0, self.backoff_initial))[1]
            self._retry_at[path] = (time.monotonic() + delay, min(delay * 2, self.backoff_max))
            with self._stats_lock:
                self._stats.failures += 1
                self._stats.last_error = f"{path.name}: {_first_line(exc)}"
            return False
        with contextlib.suppress(OSError):
            fsync_dir(path.parent)
        self._retry_at.pop(path, None)
        with self._stats_lock:
            self._stats.uploaded += 1
            self._stats.bytes += len(data)
            self._stats.last_error = ""
        return True

    def _loop(self) -> None:
        next_prune = 0.0
        while not self._stop.is_set():
            if time.monotonic() >= next_prune:
                with contextlib.suppress(OSError):
                    prune_empty_partitions(self.staging)
                next_prune = time.monotonic() + _PRUNE_EVERY_S
            try:
                self._pass(stoppable=True)
                self._count_waiting()
            except OSError as exc:  # the staging directory itself: keep trying, say why
                with self._stats_lock:
                    self._stats.last_error = f"{self.staging}: {_first_line(exc)}"
            self._wake.wait(self.poll_seconds)
            self._wake.clear()
        # The final passes start with fresh backoff; when the store was failing already,
        # one pass says whether it is back without holding the stop up for every attempt.
        self._retry_at.clear()
        try:
            self._passes(1 if self.stats.last_error else self.attempts)
        except OSError as exc:
            with self._stats_lock:
                self._stats.last_error = f"{self.staging}: {_first_line(exc)}"

    def _pass(self, *, stoppable: bool = False) -> None:
        """One pass over the pending files, in name order. A failure ends the pass: the
        store is probably down, and each further request would only wait out the same
        timeouts (the failed file's backoff keeps it from blocking the others)."""
        for path in self._pending():
            if stoppable and self._stop.is_set():
                return
            retry = self._retry_at.get(path)
            if retry is not None and time.monotonic() < retry[0]:
                continue
            if not self._upload_one(path):
                return

    def _passes(self, attempts: int) -> None:
        """Up to ``attempts`` passes over the pending files, waiting out the backoff."""
        for attempt in range(attempts):
            self._pass()
            self._count_waiting()
            if not self._pending() or attempt + 1 == attempts:
                return
            self._sleep_until_due()


# --------------------------------------------------------------------------- recovery


@dataclass
class RemoteRecovery:
    """What ``recover_remote`` did."""

    records: int  # records recovered from crashed journals
    uploaded: int  # staged files uploaded
    waiting: int  # staged files still waiting (uploads failed, or of live runs)
    last_error: str = ""


def recover_remote(
    uri: str,
    staging: Path,
    *,
    attempts: int = 3,
    backoff_initial: float = 0.5,
    filesystem: tuple[pafs.FileSystem, str] | None = None,
    on_notice: Callable[[str], None] | None = None,
) -> RemoteRecovery:
    """Recover the staging root of ``uri`` after a crash: convert dead runs' journals to
    Parquet, then upload every staged file of a dead run (live runs are left alone).

    What ``xle record --data URI`` does before it starts, and all that
    ``xle record --data URI --recover-only`` does. Raises ``DataError`` when a journal
    cannot be converted (it is kept) or when the remote root cannot be reached.
    """
    staging = Path(staging)
    recovery = recover_journals(staging)
    kept = [n for n in recovery.notices if n.kind == "journal_kept"]
    if kept:
        raise DataError("; ".join(n.message() for n in kept))
    if on_notice is not None:
        for notice in recovery.notices:
            if notice.kind != "recovered":
                on_notice(notice.message())
    uploader = Uploader(
        staging, uri, attempts=attempts, backoff_initial=backoff_initial, filesystem=filesystem
    )
    uploader.check_reachable()  # a wrong bucket or endpoint fails now, not after hours
    stats = uploader.upload_all()
    with contextlib.suppress(OSError):
        prune_empty_partitions(staging)
    return RemoteRecovery(recovery.records, stats.uploaded, stats.waiting, stats.last_error)
