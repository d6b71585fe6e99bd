"""``read_records(...).chunks()``: the records of the pairs, a few thousand at a time."""

from __future__ import annotations

from pathlib import Path

from xle.store.reader import read_records
from xle.timeutil import parse_time

T0 = parse_time("2024-01-02T03:00:00Z")
MID = parse_time("2024-01-02T03:00:05Z")
T1 = parse_time("2024-01-02T03:01:00Z")


def _flat(root: Path, start: int | None, end: int | None) -> list[tuple[object, bool]]:
    return [
        (rec, start is not None and rec.recv_ns < start)
        for chunk in read_records(root, start, end).chunks()
        for rec in chunk
    ]


def test_chunks_hold_the_records_and_warm_up_of_the_pairs(golden_root: Path) -> None:
    chunked = _flat(golden_root, MID, T1)
    assert chunked == list(read_records(golden_root, MID, T1))
    assert any(warm for _, warm in chunked) and not all(warm for _, warm in chunked)


def test_chunks_stop_at_the_inclusive_end(golden_root: Path) -> None:
    records = [rec for rec, _ in _flat(golden_root, T0, MID)]
    assert records and max(rec.recv_ns for rec in records) <= MID
    assert records == list(read_records(golden_root, T0, MID).records())


def test_chunks_without_start_read_from_the_beginning(golden_root: Path) -> None:
    chunked = _flat(golden_root, None, None)
    assert chunked == list(read_records(golden_root))
    assert not any(warm for _, warm in chunked)


def test_a_record_exactly_at_the_end_is_read(golden_root: Path) -> None:
    last = list(read_records(golden_root, T0, MID).records())[-1].recv_ns
    assert list(read_records(golden_root, T0, last).records())[-1].recv_ns == last
    assert all(r.recv_ns < last for r in read_records(golden_root, T0, last - 1).records())
