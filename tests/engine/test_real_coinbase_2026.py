"""Coinbase Advanced Trade, 2026-08-09 21:05:48 to 21:06:13 UTC
(``../shared/data/real-coinbase-2026``, a cryptofeed sample capture): one connection whose
``l2_data`` channel opens with a 46,000-level BTC-USD and a 23,334-level ETH-USD snapshot,
then 773 update frames, between ticker, market_trades, candles, heartbeats and
subscriptions frames.

The books xle builds are compared with a reference that reads the raw Parquet itself and
applies Coinbase's documented level2 rules in Decimal, sharing no code with xle: a
``snapshot`` event replaces the product's book, an ``update`` sets ``new_quantity``
(absolute) at ``price_level`` on the ``bid`` or ``offer`` side and "0" removes the level,
and ``sequence_num`` counts every message of the connection, across channels, without a
hole.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.dataset as ds
import pytest

from tests.engine.conftest import Harness, engine_tops_at, read_records
from tests.realdata import require_real
from tests.replay.conftest import Cli

PRODUCTS = ("BTC-USD", "ETH-USD")
DEPTH = 5

#: Receive times of the BTC-USD snapshot frame and of the update frame right after it.
BTC_SNAPSHOT_NS = 1_786_309_548_848_050_800
BTC_FIRST_UPDATE_NS = 1_786_309_548_883_960_000


def ns(iso: str) -> int:
    """``2026-08-09T21:06:00Z`` as epoch nanoseconds (at most microsecond precision)."""
    moment = datetime.fromisoformat(iso)
    return int(moment.timestamp()) * 10**9 + moment.microsecond * 1000


#: Record times at which the top of both books is compared: just after the ETH-USD
#: snapshot, then every five seconds, and after the last record.
TIMES = [
    ns("2026-08-09T21:05:49Z"),
    ns("2026-08-09T21:05:55Z"),
    ns("2026-08-09T21:06:00Z"),
    ns("2026-08-09T21:06:05Z"),
    ns("2026-08-09T21:06:10Z"),
    ns("2026-08-09T21:06:14Z"),
]


def reference_tops(root: Path, times: list[int], n: int) -> dict[int, dict[str, tuple]]:
    """Coinbase's documented level2 rules over the raw frames, in Decimal."""
    frames = pc.field("kind") == "ws"
    rows = ds.dataset(root / "raw", partitioning="hive").to_table(filter=frames).to_pylist()
    rows.sort(key=lambda r: (r["recv_ns"], r["exchange"], r["run"], r["seq"]))
    books: dict[str, dict[str, dict[Decimal, Decimal]]] = {}
    last_seq: dict[tuple[str, int], int] = {}
    tops: dict[int, dict[str, tuple]] = {}
    pending = sorted(times)
    for row in [*rows, None]:
        while pending and (row is None or row["recv_ns"] > pending[0]):
            tops[pending.pop(0)] = {p: _top(books.get(p), n) for p in PRODUCTS}
        if row is None:
            break
        message = json.loads(row["payload"])
        connection = (row["run"], row["conn"])
        if connection in last_seq:
            expected = last_seq[connection] + 1
            assert message["sequence_num"] == expected, f"gap before {message['sequence_num']}"
        last_seq[connection] = message["sequence_num"]
        if message["channel"] != "l2_data":
            continue
        for event in message["events"]:
            if event["type"] == "snapshot":
                books[event["product_id"]] = {"bid": {}, "offer": {}}
            book = books[event["product_id"]]
            for update in event["updates"]:
                side, price = book[update["side"]], Decimal(update["price_level"])
                if Decimal(update["new_quantity"]) == 0:
                    side.pop(price, None)
                else:
                    side[price] = Decimal(update["new_quantity"])
    return tops


def _top(book: dict | None, n: int) -> tuple:
    def text(d: Decimal) -> str:
        return format(d.normalize(), "f")

    if book is None:
        return ("unsynced", [], [])
    bids = sorted(book["bid"], reverse=True)[:n]
    asks = sorted(book["offer"])[:n]
    return (
        "synced",
        [[text(p), text(book["bid"][p])] for p in bids],
        [[text(p), text(book["offer"][p])] for p in asks],
    )


@pytest.fixture(scope="module")
def root() -> Path:
    return require_real("real-coinbase-2026")


@pytest.fixture(scope="module")
def records(root: Path) -> list:
    return read_records(root)


@pytest.fixture(scope="module")
def engine_tops(records: list) -> dict:
    return engine_tops_at(records, [*TIMES, BTC_SNAPSHOT_NS, BTC_FIRST_UPDATE_NS], DEPTH)


@pytest.fixture(scope="module")
def reference(root: Path) -> dict:
    return reference_tops(root, TIMES, DEPTH)


@pytest.fixture(scope="module")
def replayed(records: list) -> Harness:
    harness = Harness()
    harness.feed(*records)
    harness.outputs.extend(harness.engine.finish())
    return harness


@pytest.mark.parametrize("product", PRODUCTS)
def test_every_book_ends_synced(replayed: Harness, product: str) -> None:
    assert replayed.status("coinbase", product) == "synced"


def test_no_integrity_event_or_resync_over_the_whole_capture(replayed: Harness) -> None:
    assert [(e.kind, e.symbol, e.detail) for e in replayed.integrity()] == []
    assert replayed.resyncs() == []


def test_every_l2_data_event_is_applied(replayed: Harness) -> None:
    """775 l2_data frames of one event each: two snapshots and 773 updates."""
    assert replayed.engine.stats["book_updates"] == 775


@pytest.mark.parametrize("at", TIMES)
@pytest.mark.parametrize("product", PRODUCTS)
def test_top_five_levels_match_the_documented_rules(
    engine_tops: dict, reference: dict, product: str, at: int
) -> None:
    assert engine_tops[at][("coinbase", product)] == reference[at][product]


def test_the_46000_level_snapshot_is_taken_whole(records: list) -> None:
    """The BTC-USD snapshot frame (5.1 MB, sequence_num 13) lists 18,764 bids and 27,236
    offers."""
    harness = Harness()
    harness.feed(*(r for r in records if r.recv_ns <= BTC_SNAPSHOT_NS))
    view = harness.book("coinbase", "BTC-USD")
    assert (view.status, len(view.bids), len(view.asks)) == ("synced", 18_764, 27_236)


def test_snapshot_touch_and_first_update_pinned(engine_tops: dict) -> None:
    """Read from the frames: the snapshot's best bids are 65083.66 x 0.20371215 and
    65083.27 x 0.02244516, its best offers 65083.67 x 0.23256041 and 65083.72 x
    0.61446665; the next frame (sequence_num 14) sets the offer 65083.67 to 0.15556334."""
    _, bids, asks = engine_tops[BTC_SNAPSHOT_NS][("coinbase", "BTC-USD")]
    assert bids[:2] == [["65083.66", "0.20371215"], ["65083.27", "0.02244516"]]
    assert asks[:2] == [["65083.67", "0.23256041"], ["65083.72", "0.61446665"]]
    _, bids, asks = engine_tops[BTC_FIRST_UPDATE_NS][("coinbase", "BTC-USD")]
    assert bids[0] == ["65083.66", "0.20371215"]
    assert asks[:2] == [["65083.67", "0.15556334"], ["65083.72", "0.61446665"]]


def test_final_touch_pinned(engine_tops: dict) -> None:
    """Read from the frames: BTC-USD's bid 65083.66 was last set to 0.23929087
    (sequence_num 937) and its offer 65083.67 to 0.29040961 (1003); ETH-USD's bid 1919.28
    to 0.14476526 (1026) and its offer 1919.38 to 0.01194407 (1004)."""
    end = engine_tops[TIMES[-1]]
    assert end[("coinbase", "BTC-USD")][1][0] == ["65083.66", "0.23929087"]
    assert end[("coinbase", "BTC-USD")][2][0] == ["65083.67", "0.29040961"]
    assert end[("coinbase", "ETH-USD")][1][0] == ["1919.28", "0.14476526"]
    assert end[("coinbase", "ETH-USD")][2][0] == ["1919.38", "0.01194407"]


def test_cli_book_matches_the_reference(root: Path, reference: dict) -> None:
    at = "2026-08-09T21:06:00Z"
    args = ("book", "--data", root, "-e", "coinbase", "-s", "BTC-USD", "--at", at)
    result = Cli()(*args, "--depth", str(DEPTH), "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert (doc["status"], doc["bids"], doc["asks"]) == reference[ns(at)]["BTC-USD"]


@pytest.mark.parametrize(("product", "compared"), [("BTC-USD", 70), ("ETH-USD", 84)])
def test_every_ticker_agrees_with_a_nearby_book_state(
    replayed: Harness, product: str, compared: int
) -> None:
    """The ticker channel names no update id: its best prices match the book on arrival or
    a few ``l2_data`` messages away; the 3 per product before the snapshot are unmatched."""
    check = replayed.engine.cross_checks()[("coinbase", product)]
    assert (check.compared, check.agreed, check.disagreed, check.unmatched) == (
        compared,
        compared,
        0,
        3,
    )
