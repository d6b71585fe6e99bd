"""The compiled quote columns give the derived writer exactly the generic path's rows.

``quote_columns`` writes each quote's attributes straight into Arrow buffers; the
generic path builds one Python list per column for ``pa.array``. The batches must be
equal, nulls included, and the Parquet files written from them byte-identical.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xle._native import book as book_module
from xle.records import Quote, VwapResult
from xle.store.derived import _Columns, _dictionary_columns

pytestmark = pytest.mark.skipif(not book_module.COMPILED, reason="compiled book not built")

_floats = st.none() | st.floats(allow_nan=False, allow_infinity=False, width=64)
_ints = st.integers(-(2**63), 2**63 - 1)

_walks = st.builds(
    VwapResult,
    st.sampled_from(["buy", "sell"]),
    st.floats(0, 1e6),
    _floats,
    st.floats(0, 1e6),
    _floats,
    st.booleans(),
)

_quotes = st.builds(
    Quote,
    _ints,
    _ints,
    st.sampled_from(["binance", "coinbase"]),
    st.sampled_from(["BTCUSDT", "BTC-USD", "ETH-USD"]),
    st.none() | st.sampled_from(["BTC/USD", "ETH/USD"]),
    _floats,
    _floats,
    _floats,
    _floats,
    _floats,
    _floats,
    _floats,
    _floats,
    _floats,
    st.lists(_walks, max_size=6),
    st.none() | _ints,
    st.none() | _ints,
)


def _both(quotes: list[Quote]) -> tuple[pa.RecordBatch, pa.RecordBatch]:
    compiled = _Columns("quotes")
    generic = _Columns("quotes", compiled=False)
    assert compiled.compiled and not generic.compiled
    for quote in quotes:
        compiled.add(quote)
        generic.add(quote)
    return compiled.batch(), generic.batch()


def _parquet_bytes(batch: pa.RecordBatch, path: Path) -> bytes:
    pq.write_table(
        pa.Table.from_batches([batch]),
        path,
        compression="zstd",
        use_dictionary=_dictionary_columns(batch.schema),
    )
    return path.read_bytes()


@settings(max_examples=200, deadline=None)
@given(st.lists(_quotes, max_size=40))
def test_compiled_quote_columns_equal_the_generic_columns(quotes: list[Quote]) -> None:
    compiled, generic = _both(quotes)
    assert compiled.schema == generic.schema
    assert compiled.equals(generic)
    assert compiled.to_pylist() == generic.to_pylist()


def test_quote_files_are_byte_identical_both_ways(tmp_path: Path) -> None:
    walk = VwapResult("buy", 1.0, 43000.5, 1.0, 0.25, False)
    empty_side = VwapResult("sell", 1.0, None, 0.0, None, True)
    quotes = [
        Quote(
            10,
            1,
            "binance",
            "BTCUSDT",
            "BTC/USD",
            43000.0,
            1.5,
            43001.0,
            2.0,
            43000.5,
            1.0,
            2.3256,
            0.1,
            1.2,
            [walk, empty_side],
            9,
            1,
        ),
        Quote(
            11,
            2,
            "binance",
            "BTCUSDT",
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            [],
            None,
            None,
        ),
    ] * 3000
    compiled, generic = _both(quotes)
    assert _parquet_bytes(compiled, tmp_path / "c.parquet") == _parquet_bytes(
        generic, tmp_path / "g.parquet"
    )


def test_the_columns_start_empty_again_after_each_batch() -> None:
    columns = _Columns("quotes")
    quote = Quote(
        1,
        1,
        "binance",
        "BTCUSDT",
        None,
        1.0,
        1.0,
        2.0,
        1.0,
        1.5,
        1.0,
        6666.0,
        0.0,
        1.0,
        [],
        None,
        None,
    )
    columns.add(quote)
    assert columns.batch().num_rows == 1
    assert columns.pending == 0
    columns.add(quote)
    columns.add(quote)
    assert columns.batch().num_rows == 2
