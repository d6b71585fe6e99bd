"""The hftbacktest export: arrays of hftbacktest's documented ``event_dtype``, in the event
order its readers check, that rebuild xle's books."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

import xle
from tests.export.books import sample_times
from xle._native.book import format_decimal
from xle.replay.export import _event_order

# hftbacktest's ``event_dtype`` and flags as its documentation and py-hftbacktest's
# hftbacktest/types.py define them, written out here so that a change on either side shows.
DOCUMENTED_DTYPE = np.dtype(
    [
        ("ev", "u8"),
        ("exch_ts", "i8"),
        ("local_ts", "i8"),
        ("px", "f8"),
        ("qty", "f8"),
        ("order_id", "u8"),
        ("ival", "i8"),
        ("fval", "f8"),
    ],
    align=True,
)
DEPTH_EVENT, TRADE_EVENT, DEPTH_CLEAR_EVENT, DEPTH_SNAPSHOT_EVENT = 1, 2, 3, 4
EXCH_EVENT, LOCAL_EVENT, BUY_EVENT, SELL_EVENT = 1 << 31, 1 << 30, 1 << 29, 1 << 28
KIND_MASK = 0xFF


def _arrays(out: Path) -> dict[tuple[str, str], list[np.ndarray]]:
    books: dict[tuple[str, str], list[np.ndarray]] = defaultdict(list)
    for path in sorted(out.glob("*.npz")):
        exchange, symbol, _day = path.stem.split("_")
        with np.load(path) as npz:
            assert list(npz.keys()) == ["data"]
            books[(exchange, symbol)].append(npz["data"])
    return dict(books)


def _local_books_at(data: np.ndarray, times: list[int]) -> dict[int, tuple[list, list]]:
    """The depth a hftbacktest local processor holds after the ``LOCAL_EVENT`` rows with
    ``local_ts <= t``: a clear without a side clears both sides."""
    rows = data[(data["ev"] & LOCAL_EVENT) != 0]
    bids: dict[float, float] = {}
    asks: dict[float, float] = {}
    books = {}
    i = 0
    for t in sorted(times):
        while i < len(rows) and rows[i]["local_ts"] <= t:
            ev = int(rows[i]["ev"])
            kind = ev & KIND_MASK
            side = bids if ev & BUY_EVENT else asks if ev & SELL_EVENT else None
            if kind == DEPTH_CLEAR_EVENT:
                for levels in (bids, asks) if side is None else (side,):
                    levels.clear()
            elif kind in (DEPTH_EVENT, DEPTH_SNAPSHOT_EVENT):
                assert side is not None
                px, qty = float(rows[i]["px"]), float(rows[i]["qty"])
                if qty == 0:
                    side.pop(px, None)
                else:
                    side[px] = qty
            i += 1
        books[t] = (
            [(format_decimal(p), format_decimal(q)) for p, q in sorted(bids.items(), reverse=True)],
            [(format_decimal(p), format_decimal(q)) for p, q in sorted(asks.items())],
        )
    return books


def test_arrays_have_hftbacktest_documented_event_dtype(log_root, exported):
    arrays = _arrays(exported(log_root, "hftbacktest").out)
    assert arrays
    for days in arrays.values():
        for data in days:
            assert data.dtype == DOCUMENTED_DTYPE
            assert data.dtype.itemsize == 64
            kinds = set((data["ev"] & KIND_MASK).tolist())
            assert kinds <= {DEPTH_EVENT, TRADE_EVENT, DEPTH_CLEAR_EVENT, DEPTH_SNAPSHOT_EVENT}
            assert (data["order_id"] == 0).all() and (data["ival"] == 0).all()


def test_each_day_starts_with_a_cleared_book_and_a_snapshot(log_root, exported):
    for days in _arrays(exported(log_root, "hftbacktest").out).values():
        for data in days:
            depth = data[(data["ev"] & KIND_MASK) != TRADE_EVENT]
            assert int(depth[0]["ev"]) & KIND_MASK == DEPTH_CLEAR_EVENT
            assert int(depth[1]["ev"]) & KIND_MASK == DEPTH_SNAPSHOT_EVENT


def test_events_are_in_the_order_hftbacktest_validates(log_root, exported):
    """hftbacktest's ``validate_event_order``: exchange-side rows never go back in
    exchange time, local rows never go back in receive time."""
    for days in _arrays(exported(log_root, "hftbacktest").out).values():
        for data in days:
            exch = data[(data["ev"] & EXCH_EVENT) != 0]
            local = data[(data["ev"] & LOCAL_EVENT) != 0]
            assert (np.diff(exch["exch_ts"]) >= 0).all()
            assert (np.diff(local["local_ts"]) >= 0).all()


def test_arrays_rebuild_xle_books_at_sample_times(log_root, exported):
    result = exported(log_root, "hftbacktest")
    log = xle.open(log_root)
    compared = 0
    for (exchange, symbol), days in _arrays(result.out).items():
        data = np.concatenate(days)
        times = sample_times(log, exchange, symbol, 8)
        rebuilt = _local_books_at(data, times)
        for t in times:
            try:
                snap = log.book_at(exchange, symbol, t, vwap=[])
            except xle.DataError:  # before the book's first record
                continue
            assert rebuilt[t] == (snap.bids, snap.asks), f"{exchange} {symbol} at {t}"
            compared += 1
    assert compared > 0


def test_trade_events_match_the_tardis_trades(log_root, exported):
    from tests.export.books import read_csv

    arrays = _arrays(exported(log_root, "hftbacktest").out)
    tardis_out = exported(log_root, "tardis").out
    for (exchange, symbol), days in arrays.items():
        data = np.concatenate(days)
        trades = data[((data["ev"] & KIND_MASK) == TRADE_EVENT) & ((data["ev"] & LOCAL_EVENT) != 0)]
        rows = []
        for path in sorted(tardis_out.glob(f"{exchange}_trades_*_{symbol}.csv.gz")):
            rows.extend(read_csv(path)[1])
        assert len(trades) == len(rows)
        for event, row in zip(trades, rows, strict=True):
            side = BUY_EVENT if row[5] == "buy" else SELL_EVENT
            assert int(event["ev"]) & side
            assert format_decimal(float(event["px"])) == row[6]
            assert format_decimal(float(event["qty"])) == row[7]
            assert int(event["local_ts"]) // 1000 == int(row[3])


def test_rows_whose_exchange_time_goes_back_are_split_into_exchange_and_local_rows():
    rows = [  # (ev, exch_ns, local_ns, px, qty) in receive order; the 2nd is older
        (DEPTH_EVENT | BUY_EVENT, 100, 110, 1.0, 1.0),
        (TRADE_EVENT | SELL_EVENT, 90, 120, 1.0, 0.5),
        (DEPTH_EVENT | SELL_EVENT, 130, 140, 2.0, 1.0),
    ]
    data = _event_order(list(zip(*rows, strict=True)))
    flags = [(int(e) & (EXCH_EVENT | LOCAL_EVENT), int(ts)) for e, ts in data[["ev", "exch_ts"]]]
    assert flags == [
        (EXCH_EVENT, 90),  # the trade happened first at the venue
        (EXCH_EVENT | LOCAL_EVENT, 100),
        (LOCAL_EVENT, 90),  # and arrived second
        (EXCH_EVENT | LOCAL_EVENT, 130),
    ]
    exch = data[(data["ev"] & EXCH_EVENT) != 0]
    local = data[(data["ev"] & LOCAL_EVENT) != 0]
    assert exch["exch_ts"].tolist() == [90, 100, 130]
    assert local["local_ts"].tolist() == [110, 120, 140]


def test_rows_in_order_on_both_clocks_carry_both_flags():
    rows = [(DEPTH_EVENT | BUY_EVENT, 100 + i, 110 + i, 1.0, 1.0) for i in range(3)]
    data = _event_order(list(zip(*rows, strict=True)))
    assert (data["ev"] & (EXCH_EVENT | LOCAL_EVENT) == (EXCH_EVENT | LOCAL_EVENT)).all()
    assert len(data) == 3
