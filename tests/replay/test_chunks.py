"""``replay_chunks``: the records of ``replay_records``, a few thousand at a time."""

from __future__ import annotations

from pathlib import Path

from xle.replay.session import replay_chunks, replay_records
from xle.timeutil import parse_time

T0 = parse_time("2024-01-02T03:00:00Z")
MID = parse_time("2024-01-02T03:00:05Z")
T1 = parse_time("2024-01-02T03:01:00Z")


def _flat(root: Path, start: int | None, end: int | None) -> list[tuple[object, bool]]:
    return [
        (rec, start is not None and rec.recv_ns < start)
        for chunk in replay_chunks(root, start, end, None, None)
        for rec in chunk
    ]


def test_chunks_hold_the_records_and_warm_up_of_replay_records(golden_root: Path) -> None:
    chunked = _flat(golden_root, MID, T1)
    assert chunked == list(replay_records(golden_root, MID, T1, None, None))
    assert any(warm for _, warm in chunked) and not all(warm for _, warm in chunked)


def test_chunks_stop_at_the_inclusive_end(golden_root: Path) -> None:
    records = [rec for rec, _ in _flat(golden_root, T0, MID)]
    assert records and max(rec.recv_ns for rec in records) <= MID
    assert records == [rec for rec, _ in replay_records(golden_root, T0, MID, None, None)]


def test_chunks_without_start_read_from_the_beginning(golden_root: Path) -> None:
    chunked = _flat(golden_root, None, None)
    assert chunked == list(replay_records(golden_root, None, None, None, None))
    assert not any(warm for _, warm in chunked)
