"""The compiled Arrow columns give the derived writer exactly the generic path's rows.

``arrow_columns`` writes each output's attributes straight into Arrow buffers; the
generic path builds one Python list per column for ``pa.array``. For every table the
batches must be equal, nulls included, and the Parquet files written from them
byte-identical; and a replay must never import pandas (``pa.array`` does, 0.35 s).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xle._native import book as book_module
from xle.records import ArbitrageEpisode, IntegrityEvent, Quote, VwapResult
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


_texts = st.none() | st.text(max_size=12)

_episodes = st.builds(
    ArbitrageEpisode,
    _ints,
    _ints,
    st.text(max_size=8),
    st.text(max_size=20),
    st.text(max_size=20),
    st.sampled_from(["open", "closed"]),
    _ints,
    st.none() | _ints,
    st.none() | _ints,
    st.floats(allow_nan=False, allow_infinity=False),
    st.floats(allow_nan=False, allow_infinity=False),
    st.floats(allow_nan=False, allow_infinity=False),
    st.floats(allow_nan=False, allow_infinity=False),
    _texts,
)

_integrity = st.builds(
    IntegrityEvent,
    _ints,
    _ints,
    _texts,
    st.none() | st.integers(-(2**31), 2**31 - 1),
    st.sampled_from(["binance", "coinbase"]),
    _texts,
    st.sampled_from(["gap", "stale", "corrupt_file"]),
    st.text(max_size=40),
    _texts,
)


def _both(rows: list, table: str = "quotes") -> tuple[pa.RecordBatch, pa.RecordBatch]:
    compiled = _Columns(table)
    generic = _Columns(table, compiled=False)
    assert compiled.compiled and not generic.compiled
    for row in rows:
        compiled.add(row)
        generic.add(row)
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


@settings(max_examples=100, deadline=None)
@given(st.lists(_episodes, max_size=30))
def test_compiled_arbitrage_columns_equal_the_generic_columns(rows: list) -> None:
    compiled, generic = _both(rows, "arbitrage")
    assert compiled.equals(generic)


@settings(max_examples=100, deadline=None)
@given(st.lists(_integrity, max_size=30))
def test_compiled_integrity_columns_equal_the_generic_columns(rows: list) -> None:
    compiled, generic = _both(rows, "integrity")
    assert compiled.equals(generic)


def test_a_replay_never_imports_pandas(tmp_path: Path) -> None:
    """The golden log replayed over a window inside it (a seek to snapshots, batches cut
    at both ends) and written, in a fresh interpreter: nothing on the path calls
    ``pa.array`` or ``pa.scalar`` (whose first call imports pandas)."""
    script = (
        "import glob, shutil, sys\n"
        "from pathlib import Path\n"
        "import pyarrow.parquet as pq\n"
        "from xle.config import load_config\n"
        "from xle.replay.session import run_replay\n"
        "from xle.store.derived import Scope\n"
        "root = Path(sys.argv[1])\n"
        "shutil.copytree(Path(sys.argv[2]) / 'raw', root / 'raw')\n"
        "files = glob.glob(str(root / 'raw/*/*/*/*.parquet'))\n"
        "times = sorted(t for f in files\n"
        "               for t in pq.ParquetFile(f).read(columns=['recv_ns'])[0].to_pylist())\n"
        "scope = Scope(times[len(times) // 4], times[3 * len(times) // 4])\n"
        "summary = run_replay(root, scope, load_config(None))\n"
        "assert summary.warmup_records and summary.quotes and summary.files, summary\n"
        "print('pandas' in sys.modules)\n"
    )
    golden = Path(__file__).resolve().parents[1] / "data" / "golden"
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "log"), str(golden)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == "False"


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
        Quote(11, 2, "binance", "BTCUSDT", *[None] * 10, [], None, None),
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


def test_rows_of_another_type_are_read_by_attribute() -> None:
    """A row that is not an instance of the first row's struct type (here a plain
    object with the same attributes) is read with ``getattr``, not from a slot."""

    class Integrity:
        def __init__(self, event: IntegrityEvent) -> None:
            for name in event.__struct_fields__:
                setattr(self, name, getattr(event, name))

    event = IntegrityEvent(5, 6, "run-1", 2, "binance", "BTCUSDT", "gap", "lost 3", "s")
    rows = [event, Integrity(event), event]
    compiled, generic = _both(rows, "integrity")
    assert compiled.equals(generic)
    assert compiled.column("detail").to_pylist() == ["lost 3"] * 3
