"""The real Binance and Binance.US recording (``../shared/data/real``): every book synced,
no false gap, and the final books equal an independent reading of the official sync rule."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from tests import realdata
from xle._native.book import format_decimal

BOOKS = [
    ("binance", "BLZETH"),
    ("binance", "LRCBTC"),
    ("binance", "NKNUSDT"),
    ("binance", "RUNEEUR"),
    ("binanceus", "COMPUSDT"),
    ("binanceus", "CRVUSDT"),
    ("binanceus", "OMGBUSD"),
    ("binanceus", "ZRXUSDT"),
]


def _reference_books(records):
    """A deliberately plain reading of Binance's procedure, in Decimal, sharing no code
    with xle: buffer until the REST snapshot, drop ``u <= lastUpdateId``, the first event
    must satisfy ``U <= lastUpdateId + 1 <= u``, then every event must start at the
    previous ``u + 1``; events older than the book are skipped."""
    books = {}
    for rec in records:
        if rec.kind == "rest":
            snap = json.loads(rec.payload)
            key = (rec.exchange, rec.symbol)
            state = books.setdefault(key, {"buffer": []})
            state["id"] = snap["lastUpdateId"]
            state["bids"] = {Decimal(p): Decimal(q) for p, q in snap["bids"]}
            state["asks"] = {Decimal(p): Decimal(q) for p, q in snap["asks"]}
            pending, state["buffer"] = state["buffer"], []
            for event in pending:
                _reference_apply(state, event)
        elif rec.kind == "ws" and "@depth" in rec.stream:
            event = json.loads(rec.payload)["data"]
            state = books.setdefault((rec.exchange, event["s"]), {"buffer": []})
            if "id" not in state:
                state["buffer"].append(event)
            else:
                _reference_apply(state, event)
    return books


def _reference_apply(state, event):
    if event["u"] <= state["id"]:
        return
    assert event["U"] <= state["id"] + 1, "the reference saw a gap"
    for side, key in (("bids", "b"), ("asks", "a")):
        for price, qty in event[key]:
            if Decimal(qty) == 0:
                state[side].pop(Decimal(price), None)
            else:
                state[side][Decimal(price)] = Decimal(qty)
    state["id"] = event["u"]


def _top(levels, reverse, n=10):
    return [
        [format(p.normalize(), "f"), format(levels[p].normalize(), "f")]
        for p in sorted(levels, reverse=reverse)[:n]
    ]


@pytest.fixture(scope="module")
def replayed(real_records, make_harness):
    harness = make_harness()
    harness.feed(*real_records)
    return harness


@pytest.mark.parametrize(("exchange", "symbol"), BOOKS)
def test_every_real_book_ends_synced(replayed, exchange, symbol):
    assert replayed.status(exchange, symbol) == "synced"


def test_no_gap_or_malformed_record_is_reported(replayed):
    kinds = {e.kind for e in replayed.integrity()}
    assert not kinds & {"gap", "malformed", "crossed", "stale_snapshot"}
    assert replayed.resyncs() == []


@pytest.mark.parametrize(("exchange", "symbol"), BOOKS)
def test_final_top_ten_matches_the_independent_reference(replayed, real_records, exchange, symbol):
    reference = _reference_books(real_records)[(exchange, symbol)]
    view = replayed.book(exchange, symbol)

    def as_text(levels):
        return [[format_decimal(p), format_decimal(q)] for p, q in levels[:10]]

    assert as_text(view.bids) == _top(reference["bids"], reverse=True)
    assert as_text(view.asks) == _top(reference["asks"], reverse=False)


def test_nknusdt_final_touch_pinned(replayed):
    view = replayed.book("binance", "NKNUSDT")
    top = [[format_decimal(p), format_decimal(q)] for p, q in view.bids[:3]]
    assert top == [["0.3527", "9602"], ["0.3526", "2829"], ["0.3525", "1850"]]
    top = [[format_decimal(p), format_decimal(q)] for p, q in view.asks[:3]]
    assert top == [["0.3531", "152"], ["0.3532", "949"], ["0.3533", "2713"]]


def test_compusdt_final_touch_pinned(replayed):
    view = replayed.book("binanceus", "COMPUSDT")
    top = [[format_decimal(p), format_decimal(q)] for p, q in view.bids[:3]]
    assert top == [["296.92", "16.81835"], ["296.9", "1.5"], ["296.84", "0.20768"]]
    top = [[format_decimal(p), format_decimal(q)] for p, q in view.asks[:3]]
    assert top == [["297.46", "2.9"], ["297.47", "4.99915"], ["297.56", "5.08586"]]


def test_lrcbtc_events_older_than_the_snapshot_after_it_are_skipped(replayed):
    """LRCBTC's snapshot (259345543) arrives before the event 259345540-259345543."""
    assert replayed.engine._decoders["binance"].stale_events >= 1
    assert replayed.status("binance", "LRCBTC") == "synced"


def test_every_snapshot_level_prints_back_as_the_exchange_string(real_records):
    for rec in real_records:
        if rec.kind != "rest":
            continue
        for price, qty in json.loads(rec.payload)["bids"]:
            assert format_decimal(float(price)) == format(Decimal(price).normalize(), "f")
            assert format_decimal(float(qty)) == format(Decimal(qty).normalize(), "f")


def test_missing_shared_data_skips_with_the_path_it_looked_at(monkeypatch, tmp_path):
    monkeypatch.setattr(realdata, "SHARED_DATA", tmp_path / "shared" / "data")
    with pytest.raises(pytest.skip.Exception) as skipped:
        realdata.require_real("real")
    assert str(tmp_path / "shared" / "data" / "real" / "raw") in str(skipped.value)
    assert "../shared/data" in str(skipped.value)


def test_shared_data_is_found_beside_the_repository():
    assert realdata.SHARED_DATA == realdata.REPO.parent / "shared" / "data"
    assert realdata.require_real("real") == realdata.SHARED_DATA / "real"
