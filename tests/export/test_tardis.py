"""The tardis.dev export: re-imported the way tardis readers read it, it rebuilds xle's
books; its snapshot and trade files agree with it and with the engine."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import xle
from tests.export.books import read_csv, sample_times, tardis_books_at, xle_book
from tests.realdata import copy_log, require_real
from xle.errors import DataError
from xle.replay.export import (
    INCREMENTAL_COLUMNS,
    SNAPSHOT_COLUMNS,
    TRADE_COLUMNS,
    export,
)
from xle.timeutil import to_ns

VENUES = {"binance": "binance", "coinbase": "coinbase"}


def _files(out: Path, kind: str, ext: str = "csv.gz") -> dict[tuple[str, str], list[Path]]:
    """``{(exchange id, symbol): [file per day, in date order]}``."""
    books: dict[tuple[str, str], list[Path]] = defaultdict(list)
    for path in sorted(out.glob(f"*_{kind}_*.{ext}")):
        venue, rest = path.name.split(f"_{kind}_")
        _day, symbol = rest.removesuffix(f".{ext}").split("_", 1)
        books[(venue, symbol)].append(path)
    return dict(books)


def test_incremental_book_L2_rebuilds_xle_books_at_sample_times(log_root, exported):
    out = exported(log_root, "tardis").out
    log = xle.open(log_root)
    books = _files(out, "incremental_book_L2")
    assert books
    compared = 0
    for (venue, symbol), paths in books.items():
        exchange = {"binance-us": "binanceus"}.get(venue, venue)
        times = sample_times(log, exchange, symbol, 8)
        rebuilt = tardis_books_at(paths, [t // 1000 for t in times])
        for t in times:
            expected = xle_book(log, exchange, symbol, t)
            if expected is None:
                continue
            assert rebuilt[t // 1000] == expected, f"{venue} {symbol} at {t}"
            compared += 1
    assert compared >= len(books) * 4


def test_each_incremental_file_starts_with_a_snapshot_and_keeps_receive_order(log_root, exported):
    out = exported(log_root, "tardis").out
    for paths in _files(out, "incremental_book_L2").values():
        for path in paths:
            header, rows = read_csv(path)
            assert tuple(header) == INCREMENTAL_COLUMNS
            assert rows[0][4] == "true"
            day = path.name.split("_incremental_book_L2_")[1][:10]
            local = [int(r[3]) for r in rows]
            assert local == sorted(local)
            first, last = to_ns(day) // 1000, to_ns(day) // 1000 + 86_400_000_000
            assert first <= local[0] and local[-1] < last
            assert {r[5] for r in rows} <= {"bid", "ask"}
            assert {r[4] for r in rows} <= {"true", "false"}
            assert all(Decimal(r[7]) > 0 for r in rows if r[4] == "true")


def test_real_capture_is_split_into_one_file_per_day(tmp_path):
    """The real capture crosses midnight UTC: each book and kind gets a file per day."""
    root = copy_log(require_real("real-binance-2024"), tmp_path / "log")
    export(root, "tardis", tmp_path / "out")
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == [
        f"binance_{kind}_{day}_{symbol}.csv.gz"
        for kind in ("book_snapshot_25", "incremental_book_L2", "trades")
        for day in ("2024-08-08", "2024-08-09")
        for symbol in ("BTCUSDT", "ETHUSDT")
    ]


def test_book_snapshot_25_rows_are_the_top_of_the_incremental_book(log_root, exported):
    out = exported(log_root, "tardis").out
    snapshots = _files(out, "book_snapshot_25")
    increments = _files(out, "incremental_book_L2")
    assert snapshots.keys() == increments.keys()
    for key, paths in snapshots.items():
        rows = []
        for path in paths:
            header, file_rows = read_csv(path)
            assert tuple(header) == SNAPSHOT_COLUMNS
            rows.extend(file_rows)
        picked = rows[:: max(len(rows) // 10, 1)] + rows[-1:]
        rebuilt = tardis_books_at(increments[key], [int(r[3]) for r in picked])
        for row in picked:
            bids, asks = rebuilt[int(row[3])]
            fields = row[4:]
            for i in range(25):
                ask_p, ask_q, bid_p, bid_q = fields[4 * i : 4 * i + 4]
                want_ask = asks[i] if i < len(asks) else None
                want_bid = bids[i] if i < len(bids) else None
                got_ask = (Decimal(ask_p), Decimal(ask_q)) if ask_p else None
                got_bid = (Decimal(bid_p), Decimal(bid_q)) if bid_p else None
                assert (got_ask, got_bid) == (want_ask, want_bid), f"{key} level {i} {row[3]}"


def test_trades_file_holds_every_trade_the_engine_decoded(log_root, exported):
    result = exported(log_root, "tardis")
    replay = xle.open(log_root).replay()
    for _ in replay:
        pass
    rows = []
    for paths in _files(result.out, "trades").values():
        for path in paths:
            header, file_rows = read_csv(path)
            assert tuple(header) == TRADE_COLUMNS
            rows.extend(file_rows)
    assert len(rows) == replay.engine.stats["trades"] > 0
    assert {r[5] for r in rows} <= {"buy", "sell"}
    assert all(Decimal(r[6]) > 0 and Decimal(r[7]) > 0 for r in rows)
    assert sum(f.rows for f in result.summary.files if f.kind == "trades") == len(rows)


def test_parquet_export_holds_the_csv_rows_typed(log_root, exported):
    csv_out = exported(log_root, "tardis").out
    parquet_out = exported(log_root, "tardis-parquet").out
    csv_files = sorted(p.name.removesuffix(".csv.gz") for p in csv_out.glob("*.csv.gz"))
    pq_files = sorted(p.name.removesuffix(".parquet") for p in parquet_out.glob("*.parquet"))
    assert csv_files == pq_files
    for stem in csv_files:
        header, rows = read_csv(csv_out / f"{stem}.csv.gz")
        table = pq.read_table(parquet_out / f"{stem}.parquet")
        assert table.column_names == header
        assert table.num_rows == len(rows)
        sample = range(0, len(rows), max(len(rows) // 50, 1))
        records = table.to_pylist()
        for i in sample:
            for name, text, value in zip(header, rows[i], records[i].values(), strict=True):
                if name in ("timestamp", "local_timestamp"):
                    assert value == int(text)
                elif name == "is_snapshot":
                    assert value is (text == "true")
                elif text == "" or isinstance(value, str):
                    assert value == (text or None)
                else:
                    assert Decimal(repr(value)) == Decimal(text)


def test_export_summary_counts_rows_in_and_out_per_file(log_root, exported):
    result = exported(log_root, "tardis")
    summary = result.summary
    assert summary.records > 0
    on_disk = {p.name for p in result.out.iterdir()}
    assert {f.path.name for f in summary.files} == on_disk
    for f in summary.files:
        assert f.events > 0
        _header, rows = read_csv(f.path)
        assert f.rows == len(rows)


def test_window_export_starts_each_book_with_its_state_at_the_window(tmp_path):
    golden = Path(__file__).resolve().parents[1] / "data" / "golden"
    log = xle.open(golden)
    first, last = log.bounds()
    start = first + (last - first) // 2
    summary = export(golden, "tardis", tmp_path, start, last, ["incremental_book_L2"])
    assert summary.warmup_records > 0
    for (venue, symbol), paths in _files(tmp_path, "incremental_book_L2").items():
        _header, rows = read_csv(paths[0])
        assert rows[0][4] == "true"
        assert all(start // 1000 <= int(r[3]) <= last // 1000 for r in rows)
        at = int(rows[0][3]) * 1000 + 999
        expected = xle_book(log, venue, symbol, at)
        if expected is not None:
            assert tardis_books_at(paths, [at // 1000])[at // 1000] == expected


def test_export_of_an_empty_window_fails_and_leaves_no_file(tmp_path):
    golden = Path(__file__).resolve().parents[1] / "data" / "golden"
    with pytest.raises(DataError, match="no records between"):
        export(golden, "tardis", tmp_path, to_ns("2030-01-01"), to_ns("2030-01-02"))
    assert list(tmp_path.iterdir()) == []
