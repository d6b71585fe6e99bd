from __future__ import annotations

from functools import partial
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from tests.realdata import require_real
from xle._native.book import format_decimal
from xle.analytics.engine import Engine
from xle.config import load_config
from xle.records import IntegrityEvent, RawRecord, ResyncRequest
from xle.store.layout import RAW_SCHEMA


def batch_of(records) -> pa.RecordBatch:
    """RawRecords as one record batch of the raw log's columns plus ``exchange``: what
    ``Engine.on_batch`` takes (``xle.store.batches`` makes these from Parquet)."""
    rows = {name: [getattr(rec, name) for rec in records] for name in RAW_SCHEMA.names}
    arrays = [pa.array(rows[f.name], f.type) for f in RAW_SCHEMA]
    exchange = pa.array([rec.exchange for rec in records], pa.string()).dictionary_encode()
    return pa.RecordBatch.from_arrays(
        [*arrays, exchange], schema=RAW_SCHEMA.append(pa.field("exchange", exchange.type))
    )


#: How a harness feeds its engine: RawRecords (``on_record``), or record batches
#: (``on_batch``: the compiled columnar lane when it is built).
FEEDS = ("records", "batches")


class Harness:
    """An engine plus everything it said, with small readers for assertions.

    ``feed="batches"`` feeds each ``feed(...)`` call's records as one record batch, so
    every test written against the harness holds for both ways of feeding the engine."""

    def __init__(self, feed="records", **overrides):
        config = load_config()
        if overrides:
            from dataclasses import replace

            config = replace(config, **overrides)
        self.engine = Engine(config)
        self.outputs = []
        self.batches = feed == "batches"

    def feed(self, *records):
        if self.batches and records:
            self.outputs.extend(self.engine.on_batch(batch_of(records)))
            return self
        for rec in records:
            self.outputs.extend(self.engine.on_record(rec))
        return self

    def integrity(self, kind=None):
        return [
            o
            for o in self.outputs
            if isinstance(o, IntegrityEvent) and (kind is None or o.kind == kind)
        ]

    def resyncs(self):
        return [o for o in self.outputs if isinstance(o, ResyncRequest)]

    def book(self, exchange="binance", symbol="BTCUSDT"):
        return self.engine.book_view(exchange, symbol)

    def status(self, exchange="binance", symbol="BTCUSDT"):
        view = self.book(exchange, symbol)
        return view.status if view is not None else None


@pytest.fixture(params=FEEDS)
def harness(request):
    return Harness(request.param)


@pytest.fixture(scope="module", params=FEEDS)
def make_harness(request):
    return partial(Harness, request.param)


def read_records(root: Path) -> list[RawRecord]:
    """Every record of the log at ``root``, in replay order, as RawRecords."""
    rows = ds.dataset(root / "raw", partitioning="hive").to_table().to_pylist()
    rows.sort(key=lambda r: (r["recv_ns"], r["exchange"], r["run"], r["seq"]))
    return [
        RawRecord(
            r["recv_ns"],
            r["exchange"],
            r["run"],
            r["conn"],
            r["seq"],
            r["kind"],
            r["stream"],
            r["symbol"],
            r["payload"],
        )
        for r in rows
    ]


@pytest.fixture(scope="session")
def real_records() -> list[RawRecord]:
    """The real Binance + Binance.US capture of 2021-10-12 (``../shared/data/real``)."""
    return read_records(require_real("real"))


def top_levels(levels: list[tuple[float, float]], n: int) -> list[list[str]]:
    """The best ``n`` levels of a book view as the exchange's decimal strings."""
    return [[format_decimal(p), format_decimal(q)] for p, q in levels[:n]]


def engine_tops_at(
    records: list[RawRecord], times: list[int], n: int
) -> dict[int, dict[tuple[str, str], tuple[str, list[list[str]], list[list[str]]]]]:
    """One engine fed the records in order; at each time T (after every record with
    ``recv_ns <= T``) each book's status and best ``n`` bids and asks."""
    harness = Harness()
    out: dict[int, dict[tuple[str, str], tuple[str, list[list[str]], list[list[str]]]]] = {}
    i = 0
    for at in sorted(times):
        while i < len(records) and records[i].recv_ns <= at:
            harness.feed(records[i])
            i += 1
        out[at] = {}
        for key in harness.engine.book_keys():
            view = harness.engine.book_view(*key)
            out[at][key] = (view.status, top_levels(view.bids, n), top_levels(view.asks, n))
    return out
