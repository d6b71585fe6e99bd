"""DerivedWriter buffering: column batches, row groups, days closed as the replay passes."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from msgspec.structs import replace

from tests.replay.writers import stored_both_ways
from xle.records import IntegrityEvent, Quote, VwapResult
from xle.store import derived
from xle.store.derived import SCHEMAS, DerivedWriter, Scope

DAY_NS = 86_400 * 1_000_000_000
SCOPE = Scope(0, 10 * DAY_NS)


def _quote(recv_ns: int, seq: int, *, empty: bool = False) -> Quote:
    vwap = [
        VwapResult("buy", 1.0, None if empty else 100.5, 0.0 if empty else 1.0, None, empty),
        VwapResult("sell", 1.0, 99.5, 1.0, 2.5, False),
    ]
    return Quote(
        recv_ns, seq, "binance", "BTCUSDT", "BTC/USDT", 99.5, 2.0, 100.5, None if empty else 3.0,
        100.0, 1.0, 100.0, 0.2, None if empty else 1.5, [] if seq % 7 == 0 else vwap,
    )  # fmt: skip


def _row(q: Quote) -> dict[str, object]:
    row = {name: getattr(q, name) for name in SCHEMAS["quotes"].names if name != "vwap"}
    row["vwap"] = [{f.name: getattr(v, f.name) for f in derived._VWAP} for v in q.vwap]
    return row


def _files(root: Path) -> list[Path]:
    return sorted((root / "derived" / "quotes").rglob("*.parquet"))


def test_quotes_file_equals_the_rows_written(tmp_path: Path) -> None:
    quotes = [_quote(1_000 + i, i, empty=i % 3 == 0) for i in range(10_000)]
    writer = DerivedWriter(tmp_path, SCOPE)
    for q in quotes:
        writer.add(q)
    writer.commit()
    [path] = _files(tmp_path)
    expected = pa.Table.from_pylist([_row(q) for q in quotes], schema=SCHEMAS["quotes"])
    assert pq.read_table(path).equals(expected)


def test_row_groups_hold_row_group_rows_each(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(derived, "ROW_GROUP_ROWS", 8_192)
    writer = DerivedWriter(tmp_path, SCOPE)
    for i in range(20_000):
        writer.add(_quote(1_000 + i, i))
    writer.commit()
    [path] = _files(tmp_path)
    meta = pq.ParquetFile(path).metadata
    sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    assert sizes == [8_192, 8_192, 3_616]


def test_partition_of_a_passed_day_is_closed_before_commit(tmp_path: Path) -> None:
    writer = DerivedWriter(tmp_path, SCOPE)
    writer.add(_quote(DAY_NS + 5, 1))
    writer.add(_quote(2 * DAY_NS + 5, 2))
    closed = [p for p in writer._parts.values() if p.closed]
    assert [p.day for p in closed] == ["1970-01-02"]
    assert closed[0].temp.exists() and not closed[0].final.exists()
    assert _files(tmp_path) == []  # nothing visible before commit
    writer.commit()
    assert len(_files(tmp_path)) == 2


def test_late_row_for_a_closed_day_is_kept(tmp_path: Path) -> None:
    writer = DerivedWriter(tmp_path, SCOPE)
    writer.add(_quote(DAY_NS + 5, 1))
    writer.add(_quote(2 * DAY_NS + 5, 2))
    writer.add(_quote(DAY_NS + 9, 3))
    writer.commit()
    day1 = tmp_path / "derived" / "quotes" / "exchange=binance" / "date=1970-01-02"
    [path] = sorted(day1.glob("*.parquet"))
    assert pq.read_table(path).column("seq").to_pylist() == [1, 3]


def test_abort_removes_temp_files_of_closed_days(tmp_path: Path) -> None:
    writer = DerivedWriter(tmp_path, SCOPE)
    writer.add(_quote(DAY_NS + 5, 1))
    writer.add(_quote(2 * DAY_NS + 5, 2))
    writer.abort()
    assert not any(p.is_file() for p in (tmp_path / "derived").rglob("*"))


_outputs = st.lists(
    st.tuples(
        st.sampled_from(["quote", "quote", "quote", "integrity"]),
        st.sampled_from(["binance", "coinbase"]),
        st.integers(0, 3 * DAY_NS),  # three days, so days pass and rows come late
    ),
    max_size=60,
)


def _output(kind: str, exchange: str, recv_ns: int, seq: int) -> object:
    if kind == "integrity":
        return IntegrityEvent(recv_ns, seq, "run", 0, exchange, "BTCUSDT", "gap", "detail")
    return replace(_quote(recv_ns, seq), exchange=exchange)


def _written(root: Path) -> dict[str, pa.Table]:
    return {
        str(p.relative_to(root)): pq.read_table(p)
        for p in sorted((root / "derived").rglob("*.parquet"))
    }


@settings(max_examples=60, deadline=None)
@given(_outputs, st.data())
def test_store_all_writes_what_store_writes_one_by_one(tmp_path_factory, outputs, data) -> None:
    """The short path for runs of quotes keeps every file and row of ``store``."""
    items = [_output(k, e, ns, seq) for seq, (k, e, ns) in enumerate(outputs)]
    cuts = sorted(data.draw(st.lists(st.integers(0, len(items)), max_size=4)))
    (by_one, one), (by_list, many) = stored_both_ways(tmp_path_factory, SCOPE, items, items, cuts)
    assert by_list.rows == by_one.rows
    assert _written(many).keys() == _written(one).keys()
    for name, table in _written(one).items():
        assert _written(many)[name].equals(table), name
