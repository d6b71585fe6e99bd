"""Quotes as C rows (``QuoteRows``) against the ``Quote`` objects they stand for.

A replay's engine hands its derived writer the quotes of its ticks as rows
(``Engine.quote_rows``); every value, null and file must be the one the objects give.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.replay.writers import stored_both_ways
from xle._native.book import COMPILED, Book, QuoteRows, arrow_columns
from xle.records import IntegrityEvent
from xle.store import derived
from xle.store.derived import SCHEMAS, DerivedWriter, Scope

pytestmark = pytest.mark.skipif(not COMPILED, reason="the compiled core is not built")

if COMPILED:
    from xle._native._fastbook import QuoteKeys, make_quote

DAY_NS = 86_400 * 1_000_000_000
SCOPE = Scope(0, 10 * DAY_NS)

prices = st.integers(min_value=-4, max_value=420).map(lambda i: i / 4)
quantities = st.one_of(st.integers(1, 9), st.just(0.12345678901234567), st.just(1e-8))
sides = st.lists(st.tuples(prices, quantities), max_size=8)
sizes = st.lists(st.one_of(st.integers(0, 30), st.floats(0, 30)), max_size=3).map(tuple)
venue_times = st.one_of(st.none(), st.integers(-(2**62), 2**62))

#: A quote to make: bids, asks, sizes, depth, recv_ns, seq, exchange, exch_ns.
quotes_to_make = st.tuples(
    sides,
    sides,
    sizes,
    st.integers(0, 12),
    st.integers(0, 3 * DAY_NS),
    st.integers(0, 2**40),
    st.sampled_from(["binance", "coinbase"]),
    venue_times,
)


def _book(bids, asks) -> Book:
    book = Book()
    book.load(bids, asks)
    return book


def _made(spec):
    """``(book, make_quote's arguments)`` of a quote to make."""
    bids, asks, size_tuple, depth, recv_ns, seq, exchange, exch_ns = spec
    symbol = "BTCUSDT" if exchange == "binance" else "BTC-USD"
    market = "BTC/USD" if exchange == "binance" else None  # a null string column too
    args = (size_tuple, depth, recv_ns, seq, exchange, symbol, market, exch_ns)
    return _book(bids, asks), args


def _rows(specs, keys=None) -> tuple[QuoteRows, list]:
    """The rows ``add_quote`` keeps of ``specs`` and the quotes ``make_quote`` makes."""
    rows = QuoteRows(keys if keys is not None else QuoteKeys())
    expected = []
    for spec in specs:
        book, args = _made(spec)
        quote = make_quote(book, *args)
        added = rows.add_quote(book, *args)
        assert added == (quote is not None)
        if quote is not None:
            expected.append(quote)
    return rows, expected


def _text(quotes: list) -> str:
    """Quotes compared by their repr, exact for floats, and a NaN (a zero price's
    slippage) equal to a NaN."""
    return repr(quotes)


@settings(max_examples=300, deadline=None)
@given(st.lists(quotes_to_make, max_size=12))
def test_rows_give_back_the_quotes_make_quote_makes(specs) -> None:
    rows, expected = _rows(specs)
    assert _text(rows.quotes()) == _text(expected)
    assert len(rows) == len(expected)
    if expected:
        assert rows.min_recv_ns == min(q.recv_ns for q in expected)
        assert rows.max_recv_ns == max(q.recv_ns for q in expected)


def test_a_zero_mid_is_left_to_the_object_path() -> None:
    book = _book([(-1.0, 1)], [(1.0, 1)])
    rows = QuoteRows(QuoteKeys())
    args = ((1.0,), 10, 5, 1, "binance", "BTCUSDT", None, None)
    assert make_quote(book, *args) is None
    assert rows.add_quote(book, *args) is False
    assert len(rows) == 0


def test_a_venue_time_whose_latency_leaves_int64_is_left_to_the_object_path() -> None:
    book = _book([(99.0, 1)], [(101.0, 1)])
    rows = QuoteRows(QuoteKeys())
    assert rows.add_quote(book, (), 10, 2**62, 1, "binance", "BTCUSDT", None, -(2**62)) is False
    assert rows.add_quote(book, (), 10, 5, 1, "binance", "BTCUSDT", None, 2**70) is False
    assert len(rows) == 0


@settings(max_examples=200, deadline=None)
@given(st.lists(quotes_to_make, max_size=12))
def test_a_batch_holds_the_columns_arrow_columns_makes_of_the_quotes(specs) -> None:
    rows, expected = _rows(specs)
    schema = SCHEMAS["quotes"]
    for exchange in ("binance", "coinbase"):
        mine = [q for q in expected if q.exchange == exchange]
        batch = rows.batch(exchange, schema)
        objects = pa.RecordBatch.from_arrays(arrow_columns(mine, schema), schema=schema)
        # As Parquet: a zero price makes a NaN slippage, which ``equals`` calls unequal.
        assert _parquet(batch) == _parquet(objects)
        for column in batch.columns:
            column.validate(full=True)
    assert rows.exchanges() == list(dict.fromkeys(q.exchange for q in expected))


def _parquet(batch: pa.RecordBatch) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_batches([batch]), sink, compression="zstd")
    return sink.getvalue().to_pybytes()


@settings(max_examples=100, deadline=None)
@given(st.lists(quotes_to_make, max_size=12), st.integers(0, 14), st.integers(0, 14))
def test_copy_to_appends_an_exchanges_rows_up_to_a_limit(specs, start, limit) -> None:
    rows, expected = _rows(specs)
    into, before = _rows(specs[:2], rows.keys)
    after, copied = rows.copy_to(into, "coinbase", start, limit)
    theirs = [i for i, q in enumerate(expected) if q.exchange == "coinbase" and i >= start]
    moved = theirs[:limit]
    assert copied == len(moved)
    if limit == 0:
        assert after == start
    elif len(moved) == limit:  # stops right after the last one it may copy
        assert after == moved[-1] + 1
    else:
        assert after == max(start, len(rows))
    assert _text(into.quotes()) == _text(before + [expected[i] for i in moved])


def test_copy_to_needs_other_rows_of_the_same_keys() -> None:
    rows, _ = _rows([])
    with pytest.raises(ValueError, match="same keys"):
        rows.copy_to(QuoteRows(QuoteKeys()), "binance", 0, 1)
    with pytest.raises(ValueError, match="same keys"):
        rows.copy_to(rows, "binance", 0, 1)


def test_a_batch_needs_the_quotes_schema() -> None:
    rows, _ = _rows([])
    with pytest.raises(ValueError, match=r"QuoteRows\.batch makes"):
        rows.batch("binance", SCHEMAS["integrity"])


@settings(max_examples=200, deadline=None)
@given(
    st.lists(quotes_to_make, max_size=12),
    st.integers(0, 3 * DAY_NS),
    st.integers(0, 3 * DAY_NS),
    st.sampled_from([None, "binance", "coinbase"]),
)
def test_select_keeps_the_rows_of_the_window_and_books(specs, start, end, only) -> None:
    rows, expected = _rows(specs)
    kept = rows.select(start, end, lambda exchange, symbol: only in (None, exchange))
    wanted = [q for q in expected if start <= q.recv_ns <= end and only in (None, q.exchange)]
    assert _text(kept.quotes()) == _text(wanted)
    if wanted == expected:
        assert kept is rows


# --------------------------------------------------------------------------- the writer

#: Items of a replay's outputs: a run of quotes as rows, one quote as an object, or an
#: integrity event; three days, so days pass and rows come late.
items = st.lists(
    st.one_of(
        st.tuples(st.just("rows"), st.lists(quotes_to_make, min_size=1, max_size=8), st.booleans()),
        st.tuples(st.just("quote"), quotes_to_make),
        st.tuples(st.just("integrity"), st.integers(0, 3 * DAY_NS)),
    ),
    max_size=12,
)


def _outputs(drawn) -> tuple[list, list]:
    """(the outputs with rows, the same outputs with every row a ``Quote``); the rows of
    one engine's lane, or sometimes of another's (other keys)."""
    keys, other_keys = QuoteKeys(), QuoteKeys()
    with_rows, with_objects = [], []
    for kind, spec, *other in drawn:
        if kind == "rows":
            rows, quotes = _rows(spec, other_keys if other[0] else keys)
            with_rows.append(rows)
            with_objects.extend(quotes)
        elif kind == "quote":
            book, args = _made(spec)
            quote = make_quote(book, *args)
            if quote is not None:
                with_rows.append(quote)
                with_objects.append(quote)
        else:
            event = IntegrityEvent(spec, 1, "run", 0, "coinbase", "BTC-USD", "gap", "detail")
            with_rows.append(event)
            with_objects.append(event)
    return with_rows, with_objects


def _file_bytes(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted((root / "derived").rglob("*.parquet"))
    }


@settings(max_examples=80, deadline=None)
@given(items, st.sampled_from([3, 8_192]), st.data())
def test_the_writer_makes_the_same_files_of_rows_as_of_the_quotes(
    tmp_path_factory, drawn, row_group_rows, data
) -> None:
    with_rows, with_objects = _outputs(drawn)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(with_rows)), max_size=3)))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(derived, "ROW_GROUP_ROWS", row_group_rows)
        (by_objects, one), (by_rows, many) = stored_both_ways(
            tmp_path_factory, SCOPE, with_objects, with_rows, cuts
        )
    assert by_rows.rows == by_objects.rows
    assert _file_bytes(many) == _file_bytes(one)


def test_add_keeps_the_rows_in_scope(tmp_path: Path) -> None:
    rows, _ = _rows(
        [([(99.0, 1)], [(101.0, 1)], (1.0,), 10, ns, 1, "binance", None) for ns in (5, 50, 500)]
    )
    writer = DerivedWriter(tmp_path, Scope(10, 100))
    assert writer.add(rows) is True
    assert writer.rows["quotes"] == 1
    assert writer.add(rows.select(0, 9, lambda *_: True)) is False


def test_rows_that_fill_a_row_group_exactly_leave_no_empty_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three Binance rows fill a row group of three; the Coinbase row after them gives
    the Binance file nothing more, so it closes with the one row group."""
    monkeypatch.setattr(derived, "ROW_GROUP_ROWS", 3)
    specs = [([(99.0, 1)], [(101.0, 1)], (), 0, ns, 1, ex, None) for ns, ex in enumerate(
        ["binance", "binance", "binance", "coinbase"]
    )]  # fmt: skip
    rows, _ = _rows(specs)
    writer = DerivedWriter(tmp_path, SCOPE)
    writer.store_all([rows])
    writer.commit()
    binance = next((tmp_path / "derived" / "quotes" / "exchange=binance").rglob("*.parquet"))
    assert pq.ParquetFile(binance).metadata.num_row_groups == 1
