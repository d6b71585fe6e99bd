"""Binance spot, 2024-08-08 23:54 to 2024-08-09 00:05 UTC (``../shared/data/real-binance-2024``,
recorded by hftbacktest's collector): BTCUSDT and ETHUSDT from one REST snapshot each
through ~6,500 depth diffs each, across midnight (two date partitions).

The books xle builds are compared with a reference that reads the raw Parquet itself and
applies Binance's documented procedure for a local order book in Decimal, sharing no code
with xle: buffer the diffs, take the REST snapshot's ``lastUpdateId``, drop every diff with
``u <= lastUpdateId``, the first one kept must have ``U <= lastUpdateId + 1 <= u``, each
later one must start at the previous ``u + 1``; quantities are absolute and "0" removes
the level.
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
from xle.records import Quote

SYMBOLS = ("BTCUSDT", "ETHUSDT")
DEPTH = 5


def ns(iso: str) -> int:
    """``2024-08-09T00:00:30Z`` as epoch nanoseconds (at most microsecond precision)."""
    moment = datetime.fromisoformat(iso)
    return int(moment.timestamp()) * 10**9 + moment.microsecond * 1000


#: The receive time of BTCUSDT's REST snapshot, the second of the two.
SNAPSHOT_NS = 1_723_161_254_206_652_067

#: Record times at which the top of each book is compared: at the second snapshot, a second
#: later, minutes before midnight, the last millisecond of 2024-08-08, just after midnight,
#: after the last record.
TIMES = [
    SNAPSHOT_NS,
    ns("2024-08-08T23:54:15Z"),
    ns("2024-08-08T23:57:30Z"),
    ns("2024-08-08T23:59:59.999Z"),
    ns("2024-08-09T00:00:30Z"),
    ns("2024-08-09T00:05:05Z"),
]


def reference_tops(root: Path, times: list[int], n: int) -> dict[int, dict[str, tuple]]:
    """Binance's documented sync procedure over the raw rows, in Decimal."""
    wanted = (pc.field("kind") == "rest") | pc.match_substring(pc.field("stream"), "@depth")
    rows = ds.dataset(root / "raw", partitioning="hive").to_table(filter=wanted).to_pylist()
    rows.sort(key=lambda r: (r["recv_ns"], r["exchange"], r["run"], r["seq"]))
    books = {s: {"id": None, "buffer": [], "b": {}, "a": {}} for s in SYMBOLS}
    tops: dict[int, dict[str, tuple]] = {}
    pending = sorted(times)
    for row in [*rows, None]:
        while pending and (row is None or row["recv_ns"] > pending[0]):
            tops[pending.pop(0)] = {s: _top(book, n) for s, book in books.items()}
        if row is None:
            break
        if row["kind"] == "rest":
            book = books[row["symbol"]]
            snapshot = json.loads(row["payload"])
            book["id"] = snapshot["lastUpdateId"]
            book["b"] = {Decimal(p): Decimal(q) for p, q in snapshot["bids"]}
            book["a"] = {Decimal(p): Decimal(q) for p, q in snapshot["asks"]}
            buffered, book["buffer"], book["first"] = book["buffer"], [], True
            for diff in buffered:
                _apply(book, diff)
        else:
            diff = json.loads(row["payload"])["data"]
            book = books[diff["s"]]
            if book["id"] is None:
                book["buffer"].append(diff)
            else:
                _apply(book, diff)
    return tops


def _apply(book: dict, diff: dict) -> None:
    if diff["u"] <= book["id"]:
        return
    if book["first"]:
        assert diff["U"] <= book["id"] + 1 <= diff["u"], "first diff does not cover the snapshot"
        book["first"] = False
    else:
        assert diff["U"] == book["id"] + 1, f"gap: U={diff['U']} after u={book['id']}"
    for side in ("b", "a"):
        for price, qty in diff[side]:
            if Decimal(qty) == 0:
                book[side].pop(Decimal(price), None)
            else:
                book[side][Decimal(price)] = Decimal(qty)
    book["id"] = diff["u"]


def _top(book: dict, n: int) -> tuple:
    def text(d: Decimal) -> str:
        return format(d.normalize(), "f")

    if book["id"] is None:
        return ("unsynced", [], [])
    bids = sorted(book["b"], reverse=True)[:n]
    asks = sorted(book["a"])[:n]
    return (
        "synced",
        [[text(p), text(book["b"][p])] for p in bids],
        [[text(p), text(book["a"][p])] for p in asks],
    )


@pytest.fixture(scope="module")
def root() -> Path:
    return require_real("real-binance-2024")


@pytest.fixture(scope="module")
def records(root: Path) -> list:
    return read_records(root)


@pytest.fixture(scope="module")
def engine_tops(records: list) -> dict:
    return engine_tops_at(records, TIMES, DEPTH)


@pytest.fixture(scope="module")
def reference(root: Path) -> dict:
    return reference_tops(root, TIMES, DEPTH)


@pytest.fixture(scope="module")
def replayed(records: list) -> Harness:
    harness = Harness()
    harness.feed(*records)
    harness.outputs.extend(harness.engine.finish())
    return harness


def test_the_capture_spans_midnight_in_two_date_partitions(root: Path) -> None:
    dates = {p.parent.parent.name for p in (root / "raw").rglob("*.parquet")}
    assert dates == {"date=2024-08-08", "date=2024-08-09"}


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_every_book_ends_synced(replayed, symbol: str) -> None:
    assert replayed.status("binance", symbol) == "synced"


def test_no_integrity_event_or_resync_over_the_whole_capture(replayed) -> None:
    assert [(e.kind, e.symbol, e.detail) for e in replayed.integrity()] == []
    assert replayed.resyncs() == []


def test_every_diff_after_the_snapshots_is_applied(replayed) -> None:
    """Of 12,965 diffs, four were received before their snapshot and hold nothing newer
    (BTCUSDT u=50093239202 and 50093239207 <= lastUpdateId 50093239218, ETHUSDT
    u=35346513505 and 35346513512 <= 35346513512); every other one is applied, and the
    two snapshots are book updates too."""
    assert replayed.engine._decoders["binance"].stale_events == 4
    assert replayed.engine.stats["book_updates"] == 12_965 - 4 + 2


@pytest.mark.parametrize("at", TIMES)
@pytest.mark.parametrize("symbol", SYMBOLS)
def test_top_five_levels_match_the_documented_procedure(
    engine_tops: dict, reference: dict, symbol: str, at: int
) -> None:
    assert engine_tops[at][("binance", symbol)] == reference[at][symbol]


def test_first_applied_diff_straddles_the_snapshot_id(engine_tops: dict) -> None:
    """Read from the frames: BTCUSDT's snapshot (lastUpdateId 50093239218; bids 61837.63 x
    3.78826, 61837.62 x 0.617; asks 61837.64 x 1.54698, 61837.65 x 0.00843) is received
    after the diff U=50093239208 u=50093239224, which covers id 50093239219 and so is
    applied on top of it: it sets the ask 61837.64 to 1.6052. ETHUSDT's buffered diff
    U=35346513506 u=35346513512 ends at its snapshot's lastUpdateId and is dropped, so its
    book is the snapshot's (2683.8 x 3.0292 / 2683.81 x 31.4395)."""
    at = engine_tops[SNAPSHOT_NS]
    status, bids, asks = at[("binance", "BTCUSDT")]
    assert status == "synced"
    assert bids[:2] == [["61837.63", "3.78826"], ["61837.62", "0.617"]]
    assert asks[:2] == [["61837.64", "1.6052"], ["61837.65", "0.00843"]]
    assert at[("binance", "ETHUSDT")][1][0] == ["2683.8", "3.0292"]
    assert at[("binance", "ETHUSDT")][2][0] == ["2683.81", "31.4395"]


def test_final_touch_pinned(engine_tops: dict) -> None:
    """Read from the frames: the last diffs of the capture set BTCUSDT's bid 61602.01 to
    1.67177 (u=50093696291) and ask 61602.02 to 2.66795 (u=50093696318), ETHUSDT's bid
    2677.60 to 13.0449 and ask 2677.61 to 4.5232 (both in u=35346924199), and no later
    diff adds a better level."""
    end = engine_tops[TIMES[-1]]
    assert end[("binance", "BTCUSDT")][1][0] == ["61602.01", "1.67177"]
    assert end[("binance", "BTCUSDT")][2][0] == ["61602.02", "2.66795"]
    assert end[("binance", "ETHUSDT")][1][0] == ["2677.6", "13.0449"]
    assert end[("binance", "ETHUSDT")][2][0] == ["2677.61", "4.5232"]


def test_cli_book_after_midnight_matches_the_reference(root: Path, reference: dict) -> None:
    at = "2024-08-09T00:00:30Z"
    args = ("book", "--data", root, "-e", "binance", "-s", "ETHUSDT", "--at", at)
    result = Cli()(*args, "--depth", str(DEPTH), "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert (doc["status"], doc["bids"], doc["asks"]) == reference[ns(at)]["ETHUSDT"]


@pytest.mark.parametrize(
    ("symbol", "tickers", "compared"), [("BTCUSDT", 73_174, 1_072), ("ETHUSDT", 58_758, 1_056)]
)
def test_every_book_ticker_whose_u_the_book_reaches_agrees(
    replayed, symbol: str, tickers: int, compared: int
) -> None:
    """The book stops exactly on a bookTicker's ``u`` for about 1 ticker in 60 (a depth
    event covers many ids); at each of those points the venue's own top of book and the
    rebuilt one are the same prices and sizes."""
    check = replayed.engine.cross_checks()[("binance", symbol)]
    assert (check.tickers, check.compared, check.agreed) == (tickers, compared, compared)
    assert (check.disagreed, check.nearby) == (0, 0)
    assert check.unmatched == tickers - compared


def test_quotes_carry_the_venue_time_and_the_feed_latency(replayed) -> None:
    """The collector's clock ran about 1.27 s behind Binance's: every latency is negative."""
    quotes = [o for o in replayed.outputs if isinstance(o, Quote) and o.exch_ns is not None]
    assert len(quotes) > 1000
    assert all(q.feed_latency_ns == q.recv_ns - q.exch_ns for q in quotes)
    assert all(-1_300_000_000 < q.feed_latency_ns < -1_200_000_000 for q in quotes)


def test_cli_audit_reports_latency_percentiles_and_the_book_ticker_agreement(root: Path) -> None:
    result = Cli()("audit", "--data", root, "--json")
    assert result.exit_code == 0, result.stderr
    books = {b["symbol"]: b for b in json.loads(result.stdout)["books"] if b["symbol"]}
    btc = books["BTCUSDT"]
    assert btc["top_of_book"] == {
        "tickers": 73_174,
        "compared": 1_072,
        "agreed": 1_072,
        "nearby": 0,
        "disagreed": 0,
        "unmatched": 72_102,
    }
    latency = btc["feed_latency"]
    assert latency["count"] == 6_493
    assert latency["min_ns"] <= latency["p50_ns"] <= latency["p99_ns"] <= latency["max_ns"] < 0
    assert latency["negative"] == 6_493
    assert latency["clock_anomalies"] == [
        "6,493 negative (recording clock behind by up to 1.276 s)"
    ]
    text = Cli()("audit", "--data", root)
    assert "1,072 of 1,072 compared agree (100.00%)" in text.stdout
