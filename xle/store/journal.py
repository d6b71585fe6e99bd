"""The recorder's journal on disk: an Arrow IPC stream whose every batch carries a CRC32.

A journal segment (``raw/_journal/<run>-<segment>.arrow``) is what makes the raw log
durable between Parquet rolls, and what recovery converts after a crash, so reading it
back must tell three things apart:

- intact batches, which are converted;
- a torn tail, the partial batch a writer killed mid-write leaves at the end (expected:
  those records were never fsynced);
- damaged bytes (a flipped bit on disk), which must never be replayed as data. Every
  batch stores the CRC32 of its buffers in its IPC custom metadata (``batch_crc``); a
  batch that fails it is dropped and reported, and recovery puts a ``corrupt_file``
  control record in its place so that an audit of the converted log shows the hole.

Journals written before checksums existed (no ``xle.journal`` key in the stream's schema
metadata) are still read, and reported as unverified.
"""

from __future__ import annotations

import functools
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc

from xle.errors import DataError
from xle.records import RawRecord
from xle.store.layout import JOURNAL_SCHEMA, Notice

__all__ = [
    "JOURNAL_FORMAT",
    "JOURNAL_FORMAT_KEY",
    "batch_crc",
    "journal_batches",
    "new_journal",
    "read_journal",
    "records_to_batches",
    "write_batch",
]

#: Upper bound of one journal batch (rows / payload bytes) so a binary column never
#: approaches Arrow's 2 GiB offset limit when many large snapshots arrive at once.
_BATCH_ROWS = 65_536
_BATCH_BYTES = 256 << 20

#: Schema metadata of a journal stream: the format. Format 2 stores a CRC32 of every
#: batch in the batch's custom metadata (``_CRC_KEY``); a journal without this key was
#: written by an older xle and its batches cannot be verified.
JOURNAL_FORMAT_KEY = b"xle.journal"
JOURNAL_FORMAT = b"2"
_CRC_KEY = b"xle.crc32"
#: What a cleanly closed IPC stream ends with: a rolled segment that fails to decode
#: before this marker is damaged, not torn by a crash mid-write.
_END_OF_STREAM = b"\xff\xff\xff\xff\x00\x00\x00\x00"


@functools.cache
def _header_bytes() -> int:
    """Size of a journal holding only its schema: anything longer holds batches."""
    sink = pa.BufferOutputStream()
    ipc.new_stream(sink, JOURNAL_SCHEMA.with_metadata({JOURNAL_FORMAT_KEY: JOURNAL_FORMAT})).close()
    return sink.getvalue().size - len(_END_OF_STREAM)


def batch_crc(batch: pa.RecordBatch) -> int:
    """CRC32 of a journal batch's row count and column buffers.

    Computed on the buffers rather than the serialized message so that the writer can
    checksum the batch it built and recovery the batch it decoded (the IPC format keeps
    every buffer byte for byte), without a second serialization.
    """
    crc = zlib.crc32(batch.num_rows.to_bytes(8, "little"))
    for column in batch.columns:
        for buffer in column.buffers():
            if buffer is not None:
                crc = zlib.crc32(buffer, crc)
    return crc


@dataclass(frozen=True)
class _Damage:
    """Bytes of a journal that recovery dropped instead of replaying."""

    batch: int  # index of the first batch dropped
    nbytes: int
    reason: str
    in_log: bool  # worth a ``corrupt_file`` record: not the expected torn tail of a crash


def _scan_journal(path: Path) -> Iterator[pa.RecordBatch | _Damage | str]:
    """Verified batches of a journal, ``_Damage`` for what was dropped, and a ``str``
    note for a journal of the older format whose batches carry no checksum."""
    try:
        source = pa.OSFile(str(path))
    except FileNotFoundError:
        return
    with source:
        size = source.size()
        try:
            reader = ipc.open_stream(source)
        except (OSError, pa.ArrowInvalid) as exc:
            if size > _header_bytes():  # batches follow a header that no longer decodes
                yield _Damage(0, size, f"journal header undecodable ({exc})", in_log=False)
            return  # else killed before the schema was written: nothing was journaled
        if not reader.schema.equals(JOURNAL_SCHEMA):
            raise DataError(f"journal {path} has an unexpected schema: {reader.schema}")
        meta = reader.schema.metadata or {}
        checked = meta.get(JOURNAL_FORMAT_KEY) == JOURNAL_FORMAT
        if not checked:
            yield "written without batch checksums (older xle): batches not verified"
        index = 0
        while True:
            position = source.tell()
            try:
                batch, custom = reader.read_next_batch_with_custom_metadata()
            except StopIteration:
                return
            except (OSError, pa.ArrowInvalid) as exc:
                rest = size - position
                source.seek(max(size - len(_END_OF_STREAM), 0))
                closed = size >= len(_END_OF_STREAM) and source.read() == _END_OF_STREAM
                if closed:
                    reason = f"undecodable from byte {position} ({exc})"
                else:  # cannot tell a torn tail from damage: say both
                    reason = (
                        f"undecodable from byte {position} to the end: an incomplete last "
                        "batch (the writer died while writing it) or damaged bytes"
                    )
                yield _Damage(index, rest, reason, in_log=closed)
                return
            nbytes = source.tell() - position
            if checked:
                stored = custom.get(_CRC_KEY) if custom is not None else None
                if stored is None:
                    yield _Damage(index, nbytes, "batch without a checksum", in_log=True)
                    index += 1
                    continue
                if not stored.isdigit() or int(stored) != batch_crc(batch):
                    yield _Damage(index, nbytes, "checksum mismatch", in_log=True)
                    index += 1
                    continue
            try:
                batch.validate(full=True)
            except pa.ArrowInvalid as exc:
                yield _Damage(index, nbytes, f"invalid batch ({exc})", in_log=True)
                index += 1
                continue
            index += 1
            yield batch


def _damage_notice(path: Path, damage: _Damage) -> Notice:
    return Notice(
        "damaged_batch",
        path,
        f"journal batch {damage.batch} dropped, {damage.nbytes:,} bytes: {damage.reason}",
    )


def read_journal(path: Path, notices: list[Notice] | None = None) -> Iterator[pa.RecordBatch]:
    """The intact batches of a journal segment; dropped ones are reported to ``notices``.

    A writer killed mid-write leaves a partial message at the end; everything before it
    was fsynced and is intact. A batch whose checksum does not match (bytes flipped on
    disk) is dropped, never replayed. A file too short to hold even the schema yields
    nothing.
    """
    for item in _scan_journal(path):
        if isinstance(item, pa.RecordBatch):
            yield item
        elif notices is not None:
            if isinstance(item, _Damage):
                notices.append(_damage_notice(path, item))
            else:
                notices.append(Notice("unverified_journal", path, item))


def _damage_rows(
    data_root: Path, path: Path, damage: _Damage, recv_ns: int, exchanges: list[str]
) -> pa.RecordBatch:
    """``corrupt_file`` control records (one per exchange) standing in for dropped bytes,
    so that an audit of the converted log shows the hole."""
    try:
        name = path.relative_to(data_root).as_posix()
    except ValueError:
        name = path.as_posix()
    detail = f"batch {damage.batch} dropped, {damage.nbytes} bytes: {damage.reason}"
    payload = json.dumps({"error": detail, "file": name}, sort_keys=True).encode()
    n = len(exchanges)
    return pa.RecordBatch.from_arrays(
        [
            pa.array(exchanges, pa.string()),
            pa.array([recv_ns] * n, pa.int64()),
            pa.array([""] * n, pa.string()),
            pa.array([0] * n, pa.int32()),
            pa.array([0] * n, pa.int64()),
            pa.array(["event"] * n, pa.string()),
            pa.array(["corrupt_file"] * n, pa.string()),
            pa.array([None] * n, pa.string()),
            pa.array([payload] * n, pa.binary()),
        ],
        schema=JOURNAL_SCHEMA,
    )


def journal_batches(data_root: Path, path: Path, notices: list[Notice]) -> Iterator[pa.RecordBatch]:
    """The batches to convert: intact ones, with a ``corrupt_file`` record where a batch
    was dropped (at the last ``recv_ns`` before it, or the first after it)."""
    last_ns: int | None = None
    seen: set[str] = set()
    waiting: list[_Damage] = []
    for item in _scan_journal(path):
        if isinstance(item, str):
            notices.append(Notice("unverified_journal", path, item))
            continue
        if isinstance(item, _Damage):
            notices.append(_damage_notice(path, item))
            if not item.in_log:
                continue
            if last_ns is None:
                waiting.append(item)
            else:
                yield _damage_rows(data_root, path, item, last_ns, sorted(seen))
            continue
        if item.num_rows == 0:
            continue
        exchanges = sorted(pc.unique(item.column("exchange")).to_pylist())
        if waiting:
            first = pc.min(item.column("recv_ns")).as_py()
            for damage in waiting:
                yield _damage_rows(data_root, path, damage, first, exchanges)
            waiting = []
        seen.update(exchanges)
        last_ns = pc.max(item.column("recv_ns")).as_py()
        yield item


def records_to_batches(records: list[RawRecord]) -> Iterator[pa.RecordBatch]:
    start = 0
    while start < len(records):
        stop, size = start, 0
        while stop < len(records) and stop - start < _BATCH_ROWS:
            size += len(records[stop].payload)
            stop += 1
            if size >= _BATCH_BYTES:
                break
        chunk = records[start:stop] if start or stop < len(records) else records
        yield pa.RecordBatch.from_arrays(
            [
                pa.array([r.exchange for r in chunk], pa.string()),
                pa.array([r.recv_ns for r in chunk], pa.int64()),
                pa.array([r.run for r in chunk], pa.string()),
                pa.array([r.conn for r in chunk], pa.int32()),
                pa.array([r.seq for r in chunk], pa.int64()),
                pa.array([r.kind for r in chunk], pa.string()),
                pa.array([r.stream for r in chunk], pa.string()),
                pa.array([r.symbol for r in chunk], pa.string()),
                pa.array([r.payload for r in chunk], pa.binary()),
            ],
            schema=JOURNAL_SCHEMA,
        )
        start = stop


def new_journal(sink: object) -> ipc.RecordBatchStreamWriter:
    """An IPC stream writer of the current journal format on ``sink``."""
    return ipc.new_stream(sink, JOURNAL_SCHEMA.with_metadata({JOURNAL_FORMAT_KEY: JOURNAL_FORMAT}))


def write_batch(stream: ipc.RecordBatchStreamWriter, batch: pa.RecordBatch) -> None:
    """Append one batch with its checksum."""
    stream.write_batch(batch, custom_metadata={_CRC_KEY: str(batch_crc(batch)).encode()})
