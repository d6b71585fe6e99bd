"""``xle query``, ``arb``, ``audit``, ``book`` and ``compact``: what they print."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.realdata import require_real
from tests.replay.conftest import Cli
from tests.replay.golden import TABLES, export
from xle.records import ArbitrageEpisode
from xle.store.derived import DerivedWriter, Scope
from xle.store.layout import RAW_SCHEMA
from xle.store.views import VIEW_NAMES, connect, view_columns

T0 = "2024-01-02T03:00:00Z"
T1 = "2024-01-02T03:01:00Z"
BINANCE_DIR = "raw/exchange=binance/date=2024-01-02/hour=03"


@pytest.fixture
def replayed(cli: Cli, golden_root: Path) -> Path:
    assert cli("replay", "--data", golden_root, "--from", T0, "--to", T1).exit_code == 0
    return golden_root


def _ok(result) -> str:
    assert result.exit_code == 0, result.stderr
    return result.stdout


# --------------------------------------------------------------------------- query


def test_query_json_is_an_array_of_objects(cli: Cli, replayed: Path) -> None:
    sql = "SELECT kind, count(*) AS n FROM integrity GROUP BY kind ORDER BY kind"
    rows = json.loads(_ok(cli("query", "--data", replayed, "--format", "json", sql)))
    assert rows == [
        {"kind": "disconnect", "n": 2},
        {"kind": "gap", "n": 2},
        {"kind": "malformed", "n": 1},
        {"kind": "resync", "n": 3},
    ]


def test_query_csv_has_a_header_and_exact_values(cli: Cli, replayed: Path) -> None:
    sql = "SELECT exchange, symbol, bid, ask FROM quotes ORDER BY recv_ns, exchange LIMIT 2"
    rows = list(csv.reader(io.StringIO(_ok(cli("query", "--data", replayed, "-f", "csv", sql)))))
    assert rows == [
        ["exchange", "symbol", "bid", "ask"],
        ["coinbase", "BTC-USD", "42010.0", "42012.0"],
        ["binance", "BTCUSDT", "42000.0", "42001.0"],
    ]


def test_query_table_prints_rows_and_count(cli: Cli, replayed: Path) -> None:
    out = _ok(cli("query", "--data", replayed, "SELECT DISTINCT market FROM arbitrage"))
    assert "BTC/USD" in out and "1 row" in out


def test_query_with_bad_sql_prints_duckdbs_reason_on_one_line(cli: Cli, replayed: Path) -> None:
    result = cli("query", "--data", replayed, "SELECT no_such_column FROM quotes")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert "no_such_column" in result.stderr


def test_raw_view_reads_the_log_with_partition_columns(cli: Cli, golden_root: Path) -> None:
    sql = "SELECT exchange, kind, count(*) AS n FROM raw GROUP BY ALL ORDER BY ALL"
    rows = json.loads(_ok(cli("query", "--data", golden_root, "-f", "json", sql)))
    assert rows[0] == {"exchange": "binance", "kind": "event", "n": 1}
    assert sum(r["n"] for r in rows) == 30


def test_raw_view_ignores_journal_and_temporary_files(cli: Cli, golden_root: Path) -> None:
    journal = golden_root / "raw" / "_journal"
    journal.mkdir()
    (journal / "junk.parquet").write_bytes(b"not parquet")
    (golden_root / BINANCE_DIR / ".golden-1.parquet.123.tmp").write_bytes(b"half a file")
    sql = "SELECT count(*) AS n FROM raw"
    assert json.loads(_ok(cli("query", "--data", golden_root, "-f", "json", sql))) == [{"n": 30}]


def test_views_of_missing_tables_are_empty_with_their_columns(golden_root: Path) -> None:
    con = connect(golden_root)
    for view in VIEW_NAMES:
        described = [row[0] for row in con.execute(f"DESCRIBE {view}").fetchall()]
        assert described == view_columns(view)
    assert con.execute("SELECT count(*) FROM quotes").fetchall() == [(0,)]
    assert con.execute("SELECT count(*) FROM raw").fetchall() == [(30,)]


def test_a_corrupt_raw_file_does_not_break_the_other_views(cli: Cli, replayed: Path) -> None:
    victim = replayed / BINANCE_DIR / "golden-0.parquet"
    victim.write_bytes(victim.read_bytes()[:100])
    out = _ok(cli("query", "--data", replayed, "-f", "json", "SELECT count(*) AS n FROM quotes"))
    assert json.loads(out) == [{"n": 11}]


def test_raw_view_skips_files_a_compaction_already_holds(cli: Cli, golden_root: Path) -> None:
    """An interrupted compaction leaves inputs beside the merged file: count them once."""
    source = golden_root / BINANCE_DIR / "golden-0.parquet"
    table = pq.read_table(source, schema=RAW_SCHEMA)
    merged = source.with_name("compacted-1.parquet")
    meta = {b"xle.compacted_from": json.dumps(["golden-0.parquet"]).encode()}
    pq.write_table(table.replace_schema_metadata(meta), merged, compression="zstd")
    sql = "SELECT count(*) AS n FROM raw WHERE exchange = 'binance'"
    assert json.loads(_ok(cli("query", "--data", golden_root, "-f", "json", sql))) == [{"n": 13}]


# --------------------------------------------------------------------------- arb


def _arb(cli: Cli, root: Path, *args: str) -> list[dict]:
    return json.loads(_ok(cli("arb", "--data", root, "-f", "json", *args)))


def test_arb_lists_episodes_newest_first(cli: Cli, replayed: Path) -> None:
    episodes = _arb(cli, replayed)
    assert [e["close_reason"] for e in episodes] == ["end_of_data", "book_unsynced", "edge"]
    assert [e["start"] for e in episodes] == [
        "2024-01-02T03:00:10.300000000Z",
        "2024-01-02T03:00:09.000000000Z",
        "2024-01-02T03:00:03.000000000Z",
    ]
    first = episodes[-1]
    assert first["duration_s"] == 3.0 and first["executable_size"] == 0.4
    assert first["buy_venue"] == "binance:BTCUSDT" and first["sell_venue"] == "coinbase:BTC-USD"


def test_arb_filters_by_edge_time_and_market(cli: Cli, replayed: Path) -> None:
    assert [e["close_reason"] for e in _arb(cli, replayed, "--min-bps", "40")] == ["book_unsynced"]
    since = _arb(cli, replayed, "--since", "2024-01-02T03:00:09.5Z")
    assert [e["close_reason"] for e in since] == ["end_of_data", "book_unsynced"]
    until = _arb(cli, replayed, "--until", "2024-01-02T03:00:08Z")
    assert [e["close_reason"] for e in until] == ["edge"]
    assert len(_arb(cli, replayed, "--market", "btc/usd")) == 3


def test_arb_of_a_market_not_in_the_data_lists_the_markets(cli: Cli, replayed: Path) -> None:
    result = cli("arb", "--data", replayed, "--market", "DOGE/USD")
    assert result.exit_code == 2
    assert "no market DOGE/USD" in result.stderr and "markets: BTC/USD" in result.stderr


def test_arb_with_no_match_says_what_the_data_holds(cli: Cli, replayed: Path) -> None:
    result = cli("arb", "--data", replayed, "--min-bps", "1000")
    assert result.exit_code == 0 and "0 rows" in result.stdout
    assert "no episode matches; the replayed data holds 3 episodes in BTC/USD" in result.stderr


def test_arb_shows_an_episode_without_a_close_row_as_open(cli: Cli, golden_root: Path) -> None:
    start = 1_704_164_403_000_000_000
    episode = ArbitrageEpisode(
        start,
        12,
        "BTC/USD",
        "binance:BTCUSDT",
        "coinbase:BTC-USD",
        "open",
        start,
        None,
        None,
        34.4,
        34.4,
        0.4,
        57.8,
    )
    writer = DerivedWriter(golden_root, Scope(start, start + 1))
    assert writer.add(episode)
    writer.commit()
    (shown,) = _arb(cli, golden_root)
    assert (shown["status"], shown["end"], shown["duration_s"]) == ("open", None, None)
    assert shown["start"] == "2024-01-02T03:00:03.000000000Z"


def test_arb_before_any_replay_says_replay_writes_it_and_offers_the_command(
    cli: Cli, golden_root: Path
) -> None:
    result = cli("arb", "--data", golden_root)
    assert result.exit_code == 2 and result.stdout == ""
    assert "nothing replayed yet" in result.stderr
    assert "xle arb reads what xle replay writes" in result.stderr
    assert f"run: xle replay --data {golden_root} --from 2024-01-02T03:00:00" in result.stderr, (
        result.stderr
    )


# --------------------------------------------------------------------------- audit


def test_audit_counts_integrity_per_book(cli: Cli, golden_root: Path) -> None:
    report = json.loads(_ok(cli("audit", "--data", golden_root, "--json")))
    books = {(b["exchange"], b["symbol"]): b for b in report["books"]}
    binance = books[("binance", "BTCUSDT")]
    assert (binance["gaps"], binance["resyncs"], binance["malformed"]) == (1, 1, 1)
    assert binance["status"] == "synced" and binance["records"] == 12
    coinbase = books[("coinbase", "BTC-USD")]
    assert (coinbase["gaps"], coinbase["resyncs"], coinbase["disconnects"]) == (1, 2, 1)
    assert books[("coinbase", None)]["disconnects"] == 1
    assert report["records"] == 30


def test_audit_from_mid_log_counts_only_the_window(cli: Cli, golden_root: Path) -> None:
    args = ("audit", "--data", golden_root, "--json", "--from", "2024-01-02T03:00:07.5Z")
    report = json.loads(_ok(cli(*args, "--exchange", "binance")))
    (book,) = report["books"]
    assert (book["symbol"], book["gaps"], book["resyncs"], book["records"]) == ("BTCUSDT", 0, 1, 4)
    assert book["first"] == "2024-01-02T03:00:07.500000000Z"


def test_audit_table_names_every_book(cli: Cli, golden_root: Path) -> None:
    out = _ok(cli("audit", "--data", golden_root))
    for text in ("BTCUSDT", "BTC-USD", "(connection)", "synced", "gaps", "disconnects"):
        assert text in out


# --------------------------------------------------------------------------- book


def test_book_json_has_the_contract_shape(cli: Cli, golden_root: Path) -> None:
    args = ("book", "--data", golden_root, "-e", "binance", "-s", "btcusdt", "--at", T1)
    doc = json.loads(_ok(cli(*args, "--json", "--depth", "2", "--vwap", "0.5")))
    assert list(doc) == [
        "exchange",
        "symbol",
        "at_ns",
        "status",
        "bids",
        "asks",
        "imbalance",
        "vwap",
    ]
    assert doc["symbol"] == "BTCUSDT" and doc["status"] == "synced"
    assert doc["at_ns"] == 1_704_164_460_000_000_000
    assert doc["bids"] == [["42000", "1"], ["41999.5", "3"]]
    assert doc["asks"] == [["42001", "1.2"], ["42002", "2"]]
    assert [(v["side"], v["size"], v["price"], v["filled"]) for v in doc["vwap"]] == [
        ("buy", "0.5", "42001", "0.5"),
        ("sell", "0.5", "42000", "0.5"),
    ]
    assert all(set(v) == {"side", "size", "price", "filled", "slippage_bps"} for v in doc["vwap"])
    assert -1.0 <= doc["imbalance"] <= 1.0


def test_book_of_the_real_capture_is_synced_at_the_known_best_bid(cli: Cli) -> None:
    data = require_real("real")
    args = ("book", "--data", data, "--exchange", "binance", "--symbol", "NKNUSDT")
    doc = json.loads(_ok(cli(*args, "--at", "2021-10-12T00:30:00Z", "--json")))
    assert doc["status"] == "synced"
    assert doc["bids"][0] == ["0.3527", "9602"]
    assert float(doc["bids"][0][0]) < float(doc["asks"][0][0])


def test_book_between_gap_and_resync_is_unsynced_and_empty(cli: Cli, golden_root: Path) -> None:
    args = ("book", "--data", golden_root, "-e", "binance", "-s", "BTCUSDT")
    doc = json.loads(_ok(cli(*args, "--at", "2024-01-02T03:00:07.9Z", "--json")))
    assert (doc["status"], doc["bids"], doc["asks"], doc["imbalance"]) == ("unsynced", [], [], None)


def test_book_counts_a_record_exactly_at_t(cli: Cli, golden_root: Path) -> None:
    args = ("book", "--data", golden_root, "-e", "binance", "-s", "BTCUSDT", "--json")
    before = json.loads(_ok(cli(*args, "--at", "1704164407999999999")))
    at = json.loads(_ok(cli(*args, "--at", "1704164408000000000")))
    assert (before["status"], at["status"]) == ("unsynced", "synced")


def test_book_ladder_without_json_is_readable(cli: Cli, golden_root: Path) -> None:
    args = ("book", "--data", golden_root, "-e", "coinbase", "-s", "BTC-USD", "--at", T1)
    out = _ok(cli(*args))
    for text in ("coinbase BTC-USD", "synced", "42650", "42660", "imbalance", "slippage"):
        assert text in out


# --------------------------------------------------------------------------- compact


def test_compact_merges_an_hour_and_replay_outputs_do_not_change(
    cli: Cli, golden_root: Path, tmp_path: Path
) -> None:
    source = golden_root / BINANCE_DIR / "golden-0.parquet"
    table = pq.read_table(source, schema=RAW_SCHEMA)
    pq.write_table(table.slice(0, 6), source.with_name("golden-1.parquet"), compression="zstd")
    pq.write_table(table.slice(6), source.with_name("golden-2.parquet"), compression="zstd")
    source.unlink()
    assert cli("replay", "--data", golden_root, "--from", T0, "--to", T1).exit_code == 0
    before = {t: export(golden_root, t) for t in TABLES}
    before_hour_end = "2024-01-02T04:00:00Z"
    out = _ok(cli("compact", "--data", golden_root, "-e", "binance", "--before", before_hour_end))
    assert "2 files" in out and "1 hours compacted" in out
    assert [p.name for p in (golden_root / BINANCE_DIR).glob("*.parquet")] == [
        "compacted-1.parquet"
    ]
    assert cli("replay", "--data", golden_root, "--from", T0, "--to", T1).exit_code == 0
    assert {t: export(golden_root, t) for t in TABLES} == before
