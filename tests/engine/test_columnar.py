"""The columnar lane (``Engine.on_batch`` / ``on_round``) against the RawRecord path.

The lane takes the common row whole (a depth frame of a synced book) and gives every other
row to the engine's Python code; whatever a log holds, both ways must say the same thing.
Every harness test of this folder already runs both ways (``conftest.FEEDS``); here random
logs mixing every case the decoders handle are fed both ways and compared whole.
"""

from __future__ import annotations

import itertools
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.engine.conftest import batch_of
from tests.engine.randomlog import SECOND, T0, random_log, steps
from tests.engine.wire import depth, l2, raw_frame, snapshot
from xle._native.book import QuoteRows, columnar_lane
from xle.analytics.engine import Engine
from xle.config import load_config
from xle.records import Quote

pytestmark = pytest.mark.skipif(columnar_lane() is None, reason="the compiled core is not built")


def _fed_records(records):
    engine = Engine(load_config())
    out = engine.on_records(records)
    out.extend(engine.finish())
    return engine, out


def _fed_batches(records, cuts, quote_rows=False, shape=batch_of):
    """The engine fed ``records`` in batches cut at ``cuts`` (each made by ``shape``),
    and its outputs; with ``quote_rows``, each ``QuoteRows`` among them read back as
    the ``Quote`` objects it holds."""
    engine = Engine(load_config())
    engine.quote_rows = quote_rows
    out = []
    bounds = sorted({0, len(records), *(c % (len(records) + 1) for c in cuts)})
    for start, stop in itertools.pairwise(bounds):
        if stop > start:
            out.extend(_as_objects(engine.on_batch(shape(records[start:stop]))))
    out.extend(engine.finish())
    return engine, out


def _as_objects(outputs):
    return [q for out in outputs for q in (out.quotes() if type(out) is QuoteRows else [out])]


def _fed_batches_of(records, cuts, symbols):
    """``_fed_batches`` with the lane skipping other symbols' rows (``symbols``)."""
    engine = Engine(load_config())
    out = []
    bounds = sorted({0, len(records), *(c % (len(records) + 1) for c in cuts)})
    for start, stop in itertools.pairwise(bounds):
        if stop > start:
            out.extend(engine.on_batch(batch_of(records[start:stop]), symbols=symbols))
    out.extend(engine.finish())
    return engine, out


def _state(engine):
    books = {key: engine.book_view(*key) for key in engine.book_keys()}
    return (
        books,
        dict(engine.stats),
        dict(engine.arbitrage.last_edge),
        {key: check.to_dict() for key, check in engine.cross_checks().items()},
        engine.ignored_streams(),
        {key: engine.last_trade(*key) for key in engine.book_keys()},
    )


@pytest.mark.parametrize("quote_rows", [False, True], ids=["quotes", "quote_rows"])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(steps, min_size=1, max_size=60), st.lists(st.integers(0, 200), max_size=4))
def test_random_logs_give_the_same_outputs_and_state_both_ways(quote_rows, plan, cuts):
    """Both ways, with the lane's quotes as objects or as rows (``Engine.quote_rows``)."""
    _assert_both_ways(random_log(plan), cuts, quote_rows, batch_of)


def _assert_both_ways(records, cuts, quote_rows, shape):
    if not records:
        return
    by_records, expected = _fed_records(records)
    by_batches, actual = _fed_batches(records, cuts, quote_rows, shape)
    assert repr(actual) == repr(expected)  # repr: exact floats, and NaN equal to NaN
    assert _state(by_batches) == _state(by_records)


def _as_read(records):
    """``batch_of`` with ``stream`` a dictionary, as the reader reads the log: what the
    lane reads through Arrow's C data interface (plain strings go through pyarrow)."""
    batch = batch_of(records)
    index = batch.schema.get_field_index("stream")
    return batch.set_column(index, "stream", batch.column(index).dictionary_encode())


def _as_read_slice(records):
    """``_as_read`` of a slice: every column, validity bitmaps included, starts at an
    offset into its buffers (as a replay's warm-up split leaves them)."""
    before = random_log([("heartbeat", [], [], SECOND), ("disconnect", [], [], SECOND)])
    return _as_read(before + records).slice(len(before))


@pytest.mark.parametrize("shape", [_as_read, _as_read_slice], ids=["as read", "sliced"])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(steps, min_size=1, max_size=60), st.lists(st.integers(0, 200), max_size=4))
def test_batches_as_the_reader_reads_them_give_the_same_outputs(shape, plan, cuts):
    _assert_both_ways(random_log(plan), cuts, True, shape)


def test_the_lane_reads_the_logs_batches_through_arrows_c_interface():
    """Batches shaped as the log is read (dictionaries, int32 indices) are read from one
    export; plain string columns through pyarrow. Both read the same rows."""
    plan = [(what, [(99.0, 1)], [], SECOND) for what in ("l2", "disconnect", "depth")]
    records = random_log(plan)
    lane = Engine(load_config())._columnar_lane()
    exported = lane.prepare(None, _as_read_slice(records))
    plain = lane.prepare(None, batch_of(records))
    assert exported.exported and not plain.exported
    rows = range(len(records))
    assert [lane.row_record(exported, r) for r in rows] == records
    assert [lane.row_record(plain, r) for r in rows] == records


def test_a_replay_engine_gives_its_ticks_quotes_as_rows():
    records = _synced_log(50)
    records += [
        depth(151 + k, 151 + k, [(99.0, 2 + k)], [], t=T0 + (k + 2) * SECOND) for k in range(5)
    ]
    _, expected = _fed_records(records)
    engine = Engine(load_config())
    engine.quote_rows = True
    outputs = engine.on_batch(batch_of(records))
    assert [type(out) for out in outputs].count(QuoteRows) == 1  # the ticks of one feed
    assert repr(_as_objects(outputs) + engine.finish()) == repr(expected)
    assert sum(type(out) is Quote for out in expected) == 6


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(steps, min_size=1, max_size=60),
    st.lists(st.integers(0, 200), max_size=4),
    st.sampled_from([frozenset({"BTCUSDT"}), frozenset({"BTC-USD"}), frozenset({"ETHUSDT"})]),
)
def test_a_symbol_filter_in_the_lane_equals_filtered_records(plan, cuts, symbols):
    records = random_log(plan)
    if not records:
        return
    kept = [r for r in records if r.symbol is None or r.symbol in symbols]
    by_records, expected = _fed_records(kept)
    by_batches, actual = _fed_batches_of(records, cuts, symbols)
    assert actual == expected
    assert _state(by_batches) == _state(by_records)


def test_a_symbol_filter_applies_to_a_batch_with_null_keys_too():
    """A batch with a null ``seq`` (not one the recorder writes) is Python's row by row;
    the lane's symbol filter still keeps the same rows."""
    import msgspec
    import pyarrow as pa

    records = [
        snapshot(100, [(99.0, 1)], [(101.0, 1)], t=T0),
        l2(1, "snapshot", [(99.0, 1)], [(101.0, 1)], t=T0 + 1),
        msgspec.structs.replace(depth(101, 101, [(99.5, 2)], [], t=T0 + 2), seq=None),
        l2(2, "update", [(99.5, 2)], [], t=T0 + 3),
    ]
    seq = pa.array([rec.seq for rec in records], pa.int64())
    batch = batch_of(records).set_column(3, "seq", seq)
    by_records, expected = _fed_records([records[0], records[2]])  # BTCUSDT's rows only
    engine = Engine(load_config())
    actual = engine.on_batch(batch, symbols=frozenset({"BTCUSDT"}))
    actual.extend(engine.finish())
    assert actual == expected
    assert _state(engine) == _state(by_records)
    assert engine.book_keys() == [("binance", "BTCUSDT")]


def _synced_log(messages):
    records = [snapshot(100, [(99.0, 1)], [(101.0, 1)], t=T0)]
    for k in range(messages):
        price = 99.0 + (k % 3) * 0.25
        records.append(depth(101 + k, 101 + k, [(price, 1 + k % 4)], [], t=T0 + (k + 1) * 1000))
    return records


def test_the_lane_ticks_in_c_and_leaves_a_book_turning_stale_to_python():
    """Quote ticks of armed books are the lane's own (no write-back before each); the
    tick that finds a book stale is the engine's, which words the event."""
    records = _synced_log(50)
    records += [
        depth(151 + k, 151 + k, [(99.0, 2 + k)], [], t=T0 + (k + 2) * SECOND) for k in range(3)
    ]
    records += [depth(154, 154, [(99.0, 9)], [], t=T0 + 80 * SECOND)]  # 76 s later: stale
    records += [depth(155, 155, [(99.0, 8)], [], t=T0 + 81 * SECOND + 1)]
    _, expected = _fed_records(records)
    engine = Engine(load_config())
    engine.quote_rows = True
    actual = _as_objects(engine.on_batch(batch_of(records))) + engine.finish()
    assert repr(actual) == repr(expected)
    assert [out.kind for out in expected if type(out) is not Quote] == ["stale"]
    lane = engine._columnar_lane()
    assert (lane.ticks, lane.fast_ticks) == (5, 4)


def test_the_lane_takes_a_synced_books_depth_frames_whole():
    engine = Engine(load_config())
    engine.on_batch(batch_of(_synced_log(50)))
    lane = engine._columnar_lane()
    assert lane.fast_rows == 49  # all but the snapshot and the first frame (no tick yet)
    assert lane.python_rows == 2


def test_the_lane_takes_a_live_books_tickers_and_trades_whole():
    trade = {"e": "trade", "E": 1, "s": "BTCUSDT", "t": 9, "p": "99.0", "q": "2", "m": True}
    ticker = {"u": 150, "s": "BTCUSDT", "b": "99.5", "B": "4", "a": "101.0", "A": "1"}
    extra = [
        raw_frame(json.dumps(body).encode(), stream=f"btcusdt@{stream}", t=T0 + 10**6 + k)
        for k, (stream, body) in enumerate([("trade", trade), ("bookTicker", ticker)] * 2)
    ]
    records = [*_synced_log(50), *extra]
    by_records, _ = _fed_records(records)
    engine = Engine(load_config())
    engine.on_batch(batch_of(records[:51]))  # the first ticker reaches Python: it makes
    engine.on_batch(batch_of(records[51:]))  # the book's cross-check, then C keeps it
    lane = engine._columnar_lane()
    assert lane.python_rows == 3  # the snapshot, the first frame, the first ticker
    assert lane.fast_rows == 49 + 3
    assert _state(engine) == _state(by_records)
    assert engine.cross_checks()[("binance", "BTCUSDT")].agreed == 2


def test_the_lane_stops_after_each_update_of_a_changed_book_and_names_it():
    """A backtest's "book" subscription: the lane applies the frames itself and stops
    after each one that updates a book of ``changed_books``, not for other books."""
    eth = [
        snapshot(500, [(9.0, 1)], [(11.0, 1)], symbol="ETHUSDT", t=T0 + 1),
        *(depth(501 + k, 501 + k, [(9.0, 2 + k)], [], symbol="ETHUSDT", t=T0 + 2 + k * 1000)
          for k in range(5)),
    ]  # fmt: skip
    records = sorted([*_synced_log(5), *eth], key=lambda rec: rec.recv_ns)
    engine = Engine(load_config())
    engine.on_batch(batch_of(records[:4]))  # both snapshots and a first frame each, in Python
    engine.changed_books = {("binance", "BTCUSDT")}
    lane = engine._columnar_lane()
    python_rows = lane.python_rows
    prepared = lane.prepare("binance", batch_of(records[4:]))
    stops = []
    row = 0
    while row < prepared.num_rows:
        row = lane.feed(prepared, [], row, False, None, True)
        stops.append((row, lane.changed))
    symbols = [rec.symbol for rec in records[4:]]
    expected = [(k + 1, ("binance", "BTCUSDT")) for k, s in enumerate(symbols) if s == "BTCUSDT"]
    if symbols[-1] != "BTCUSDT":
        expected.append((len(symbols), None))
    assert stops == expected
    assert lane.python_rows == python_rows  # every frame taken whole
    assert _state(engine) == _state(_fed_records(records)[0])


def test_on_round_merges_exchanges_in_replay_order():
    binance = _synced_log(5)
    coinbase = [l2(1, "snapshot", [(99.5, 1)], [(100.5, 1)], t=T0 + 1500)]
    coinbase += [l2(2 + k, "update", [(99.75, k + 1)], [], t=T0 + 2000 * (k + 1)) for k in range(4)]
    merged = sorted(binance + coinbase, key=lambda r: (r.recv_ns, r.exchange, r.run, r.seq))
    by_records, expected = _fed_records(merged)
    engine = Engine(load_config())
    out = engine.on_round(
        [
            ("binance", [batch_of(binance[:3]), batch_of(binance[3:])]),
            ("coinbase", [batch_of(coinbase)]),
        ]
    )
    out.extend(engine.finish())
    assert out == expected
    assert _state(engine) == _state(by_records)


def test_iter_batch_stops_after_each_row_with_outputs():
    gap = depth(200, 201, [(99.0, 1)], [], t=T0 + 10 * SECOND)
    later = depth(202, 203, [(99.0, 2)], [], t=T0 + 10 * SECOND + 1)
    engine = Engine(load_config())
    steps = list(engine.iter_batch(batch_of([*_synced_log(3), gap, later])))
    assert [stop for stop, _ in steps] == [5, 6]  # right after the gap frame, then the rest
    assert [type(out).__name__ for out in steps[0][1]] == [
        "Quote",
        "IntegrityEvent",
        "ResyncRequest",
    ]
    assert steps[1][1] == []
