"""``xle.store.batches.read_batches``: the log as record batches, rows exactly as
``read_records(...).chunks()`` gives them, whichever way rounds are handed over."""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xle.records import RawRecord
from xle.store.batches import Round, batch_rows, read_batches, rows_before, split_at
from xle.store.merge import records_from_table
from xle.store.reader import read_records

from .conftest import DAY0, SECOND, make_records, replay_key, write_log_file, write_random_runs


def _rows(items) -> list[RawRecord]:
    """The batches' rows as RawRecords, a Round merged as replay order has it."""
    out: list[RawRecord] = []
    for item in items:
        if isinstance(item, list):
            out.extend(item)
        elif isinstance(item, Round):
            merged = [
                rec
                for exchange, batches in item.parts
                for batch in batches
                for rec in records_from_table(batch, exchange)
            ]
            out.extend(sorted(merged, key=replay_key))
        else:
            exchange, batch = item
            out.extend(records_from_table(batch, exchange))
    return out


@settings(max_examples=40, deadline=None)
@given(
    st.integers(0, 10_000),
    st.integers(1, 5),
    st.sampled_from([1, 3, 64]),
    st.booleans(),
    st.booleans(),
)
def test_batches_hold_the_rows_of_chunks_in_replay_order(seed, files, batch_size, rounds, ahead):
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_random_runs(root, rng, files)
        expected = list(read_records(root, batch_size=batch_size).records())
        items = read_batches(
            read_records(root, batch_size=batch_size), rounds=rounds, read_ahead=ahead
        )
        assert _rows(items) == expected


def test_a_consumer_that_stops_early_stops_the_read_ahead_thread(root: Path):
    write_log_file(root, make_records(5000, step_ns=SECOND // 1000), "run1-0.parquet")
    items = read_batches(read_records(root, batch_size=10), read_ahead=True)
    first = next(items)
    items.close()  # joins the thread: a leak would hang here
    assert not isinstance(first, list)


@pytest.mark.parametrize(("at", "before"), [(0, 0), (3, 3), (10, 10), (99, 10)])
def test_rows_before_counts_the_warm_up_prefix(root: Path, at: int, before: int):
    write_log_file(root, make_records(10, step_ns=1), "run1-0.parquet")
    ((_, batch),) = list(read_batches(read_records(root)))
    assert rows_before(batch, DAY0 + at) == before


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 4), st.integers(0, 3 * 3600))
def test_split_at_cuts_every_item_where_its_records_reach_ns(seed, files, seconds):
    """Batches, rounds and record lists alike: the rows before ``ns`` and from it on,
    in order, nothing lost, each side None when empty."""
    rng = random.Random(seed)
    ns = DAY0 + seconds * SECOND
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_random_runs(root, rng, files)
        for item in read_batches(read_records(root, batch_size=7), rounds=True):
            before, after = split_at(item, ns)
            rows = _rows([item])
            assert batch_rows(item) == len(rows)
            head = _rows([before]) if before is not None else []
            tail = _rows([after]) if after is not None else []
            assert head + tail == rows
            assert all(r.recv_ns < ns for r in head)
            assert all(r.recv_ns >= ns for r in tail)


def test_split_at_a_record_list():
    records = make_records(4, step_ns=10)
    assert split_at(records, DAY0 + 15) == (records[:2], records[2:])
    assert split_at(records, DAY0) == (None, records)
    assert split_at(records, DAY0 + 99) == (records, None)
