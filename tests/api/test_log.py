"""``xle.open(root) -> Log`` over the hand-made golden log: each method answers what the
matching command prints, and bad input is a one-line ``XleError`` naming what exists."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pytest

import xle

T0 = "2024-01-02T03:00:00Z"
T1 = "2024-01-02T03:00:12Z"


def test_every_name_of_all_resolves():
    for name in xle.__all__:
        assert getattr(xle, name) is not None


def test_import_xle_loads_no_heavy_module():
    code = (
        "import sys, xle\n"
        "heavy = ('pyarrow', 'duckdb', 'dash', 'pandas', 'polars', 'rich', 'msgspec')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_open_without_a_raw_log_says_so(tmp_path):
    with pytest.raises(xle.DataError, match="no raw log in"):
        xle.open(tmp_path)


def test_open_missing_directory_says_so(tmp_path):
    with pytest.raises(xle.DataError, match="data directory not found"):
        xle.open(tmp_path / "nowhere")


def test_log_lists_its_exchanges_symbols_and_bounds(golden_root):
    log = xle.open(golden_root)
    assert log.exchanges == ["binance", "coinbase"]
    assert log.symbols() == ["BTC-USD", "BTCUSDT"]
    assert log.symbols("binance") == ["BTCUSDT"]
    assert log.bounds() == (xle.to_ns(T0), xle.to_ns(T1))


def test_replay_counts_equal_xle_replay_summary(golden_root, cli):
    outputs = list(xle.open(golden_root).replay(T0, T1))
    kinds = Counter(type(out).__name__ for out in outputs)
    result = cli("replay", "--data", golden_root, "--from", T0, "--to", T1, "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert f"quotes     {kinds['Quote']}" in result.stdout
    opened = sum(1 for o in outputs if isinstance(o, xle.ArbitrageEpisode) and o.status == "open")
    closed = kinds["ArbitrageEpisode"] - opened
    assert f"arbitrage  {opened} opened, {closed} closed" in result.stdout


def test_replay_outputs_equal_the_rows_xle_replay_stores(golden_root, cli):
    outputs = list(xle.open(golden_root).replay(T0, T1))
    assert cli("replay", "--data", golden_root, "--from", T0, "--to", T1).exit_code == 0
    stored = xle.open(golden_root).quotes(columns=["recv_ns", "exchange", "symbol", "mid"])
    quotes = [o for o in outputs if isinstance(o, xle.Quote)]
    mine = sorted((q.recv_ns, q.exchange, q.symbol, q.mid) for q in quotes)
    assert mine == sorted(tuple(row.values()) for row in stored.to_pylist())


def test_replay_outputs_come_in_the_order_the_engine_emits_them(golden_root):
    from xle.store.reader import read_records

    engine = xle.Engine(xle.load_config())
    emitted = [out for rec in read_records(golden_root).records() for out in engine.on_record(rec)]
    emitted += engine.finish()
    wanted = (xle.Quote, xle.ArbitrageEpisode, xle.IntegrityEvent)
    assert list(xle.open(golden_root).replay()) == [o for o in emitted if isinstance(o, wanted)]


def test_replay_drops_warm_up_outputs(golden_root):
    start = "2024-01-02T03:00:05Z"
    replay = xle.open(golden_root).replay(start, T1)
    outputs = list(replay)
    assert outputs
    assert min(out.recv_ns for out in outputs) >= xle.to_ns(start)
    assert replay.warmup_records > 0


def test_replay_book_while_iterating_is_the_book_at_the_current_record(golden_root):
    log = xle.open(golden_root)
    replay = log.replay(exchanges="binance")
    seen = 0
    for out in replay:
        if isinstance(out, xle.Quote) and out.symbol == "BTCUSDT":
            here = replay.book("binance", "BTCUSDT", depth=5)
            assert here.at_ns == replay.position_ns >= out.recv_ns
            at = replay.position_ns
            assert here.to_dict() == log.book_at("binance", "BTCUSDT", at, depth=5).to_dict()
            seen += 1
    assert seen >= 3


def test_replay_book_at_an_unthrottled_output_is_the_book_it_describes(golden_root):
    replay = xle.open(golden_root).replay(exchanges="coinbase")
    for out in replay:
        if isinstance(out, xle.IntegrityEvent) and out.kind == "gap":
            assert replay.position_ns == out.recv_ns
            assert replay.book("coinbase", "BTC-USD").status == "unsynced"
            break
    else:
        pytest.fail("the golden log has a Coinbase gap")


def test_replay_book_of_an_unseen_symbol_names_the_books_so_far(golden_root):
    replay = xle.open(golden_root).replay()
    next(iter(replay))
    with pytest.raises(xle.DataError, match=r"no book for binance ETHUSDT yet \(books so far"):
        replay.book("binance", "ETHUSDT")


def test_replay_runs_once(golden_root):
    replay = xle.open(golden_root).replay()
    list(replay)
    with pytest.raises(xle.UsageError, match="runs once"):
        iter(replay)


def test_replay_of_an_empty_window_raises_like_the_cli(golden_root):
    replay = xle.open(golden_root).replay("2024-01-02T05:00:00Z", "2024-01-02T06:00:00Z")
    with pytest.raises(xle.DataError, match=r"no records between 2024-01-02T05:00:00\.000000000Z"):
        list(replay)


def test_replay_with_an_empty_range_is_a_usage_error(golden_root):
    with pytest.raises(xle.UsageError, match="empty time range"):
        xle.open(golden_root).replay(T1, T0)


def test_replay_of_an_exchange_not_in_the_log_names_the_exchanges(golden_root):
    with pytest.raises(xle.DataError, match=r"no raw log of binanceus .*holds: binance, coinbase"):
        xle.open(golden_root).replay(exchanges="binanceus")


def test_replay_of_an_unknown_exchange_names_the_known_ones(golden_root):
    with pytest.raises(xle.UsageError, match=r"unknown exchange 'kraken' \(known: binance"):
        xle.open(golden_root).replay(exchanges=["kraken"])


def test_replay_of_a_symbol_not_in_the_log_names_the_symbols(golden_root):
    with pytest.raises(xle.DataError, match=r"no records of ETHUSDT .*symbols: BTC-USD, BTCUSDT"):
        xle.open(golden_root).replay(symbols="ethusdt")


def test_replay_times_take_every_form(golden_root):
    pd = pytest.importorskip("pandas")
    log = xle.open(golden_root)
    a = [o.recv_ns for o in log.replay(pd.Timestamp(T0), xle.to_ns(T1))]
    b = [o.recv_ns for o in log.replay(T0, pd.Timestamp(T1).to_pydatetime())]
    assert a == b


def test_book_at_to_dict_is_what_xle_book_json_prints(golden_root, cli):
    at = "2024-01-02T03:00:04.5Z"
    snap = xle.open(golden_root).book_at("binance", "btcusdt", at, depth=10)
    result = cli(
        "book", "--data", golden_root, "-e", "binance", "-s", "btcusdt", "--at", at, "--json"
    )
    assert result.exit_code == 0, result.stderr
    assert snap.to_dict() == json.loads(result.stdout)


def test_book_at_prices_are_exact_decimal_strings(golden_root):
    snap = xle.open(golden_root).book_at("binance", "BTCUSDT", "2024-01-02T03:00:05Z")
    assert isinstance(snap, xle.BookSnapshot)
    assert snap.status == "synced"
    assert snap.asks[0] == ("42000.5", "0.3")
    assert all(isinstance(p, str) and isinstance(q, str) for p, q in snap.bids + snap.asks)


def test_book_at_custom_vwap_sizes_match_the_cli(golden_root, cli):
    at = "2024-01-02T03:00:05Z"
    snap = xle.open(golden_root).book_at("coinbase", "BTC-USD", at, depth=3, vwap=[0.5, 2])
    result = cli(
        "book", "--data", golden_root, "-e", "coinbase", "-s", "BTC-USD", "--at", at,
        "--depth", 3, "--vwap", 0.5, "--vwap", 2, "--json",
    )  # fmt: skip
    assert snap.to_dict() == json.loads(result.stdout)


def test_book_at_unknown_symbol_names_the_symbols(golden_root):
    with pytest.raises(xle.DataError, match=r"no records of ETHUSDT on binance .*symbols: BTCUSDT"):
        xle.open(golden_root).book_at("binance", "ETHUSDT", T1)


def test_book_at_before_the_first_record_says_no_book(golden_root):
    with pytest.raises(xle.DataError, match="no book for binance BTCUSDT at or before"):
        xle.open(golden_root).book_at("binance", "BTCUSDT", "2024-01-01")


def test_book_at_bad_time_is_a_usage_error(golden_root):
    with pytest.raises(xle.UsageError, match="at: not a time: 'soon'"):
        xle.open(golden_root).book_at("binance", "BTCUSDT", "soon")


def test_derived_tables_before_any_replay_say_what_to_run(golden_root):
    log = xle.open(golden_root)
    for read in (log.quotes, log.arbitrage, log.integrity):
        with pytest.raises(xle.DataError, match=r"no replay has written them yet; run `xle replay"):
            read()


def test_write_derived_stores_what_xle_replay_stores(golden_root, tmp_path, cli):
    other = tmp_path / "other"
    other.mkdir()
    (other / "raw").symlink_to(golden_root / "raw", target_is_directory=True)
    summary = xle.open(golden_root).write_derived(T0, T1)
    assert isinstance(summary, xle.ReplaySummary)
    assert cli("replay", "--data", other, "--from", T0, "--to", T1).exit_code == 0
    mine = sorted(p.relative_to(golden_root / "derived") for p in summary.files)
    theirs = sorted(
        p.relative_to(other / "derived") for p in (other / "derived").rglob("*.parquet")
    )
    assert mine == theirs
    for rel in mine:
        assert (golden_root / "derived" / rel).read_bytes() == (
            other / "derived" / rel
        ).read_bytes()


def test_write_derived_defaults_to_the_whole_log(golden_root):
    summary = xle.open(golden_root).write_derived()
    assert (summary.scope.start_ns, summary.scope.end_ns) == (xle.to_ns(T0), xle.to_ns(T1))


def test_tables_read_a_closed_window(golden_root):
    log = xle.open(golden_root)
    first, last = log.bounds()
    assert log.raw(first, last).num_rows == 30
    assert log.raw(first + 1, last - 1).num_rows == 28


def test_raw_table_has_the_columns_of_the_raw_view(golden_root):
    log = xle.open(golden_root)
    assert log.raw().column_names == log.sql("SELECT * FROM raw").column_names


def test_derived_tables_equal_the_sql_views(golden_root):
    log = xle.open(golden_root)
    log.write_derived(T0, T1)
    order = {"quotes": "recv_ns, exchange, seq", "arbitrage": "recv_ns, seq",
             "integrity": "recv_ns, exchange, seq"}  # fmt: skip
    for table, keys in order.items():
        mine = getattr(log, table)()
        assert mine.num_rows > 0
        assert mine.to_pylist() == log.sql(f"SELECT * FROM {table} ORDER BY {keys}").to_pylist()


def test_tables_filter_by_exchange_symbol_and_market(golden_root):
    log = xle.open(golden_root)
    log.write_derived()
    assert set(log.quotes(exchanges="coinbase").column("symbol").to_pylist()) == {"BTC-USD"}
    assert set(log.quotes(symbols="btcusdt").column("exchange").to_pylist()) == {"binance"}
    assert log.arbitrage(markets="ETH/USD").num_rows == 0
    assert log.arbitrage(markets="BTC/USD").num_rows > 0


def test_unknown_column_names_the_columns(golden_root):
    with pytest.raises(xle.UsageError, match=r"no column nope in raw \(columns: recv_ns"):
        xle.open(golden_root).raw(columns=["nope"])


def test_sql_returns_an_arrow_table(golden_root):
    table = xle.open(golden_root).sql(
        "SELECT exchange, count(*) AS n FROM raw GROUP BY 1 ORDER BY 1"
    )
    assert isinstance(table, pa.Table)
    assert table.to_pylist() == [
        {"exchange": "binance", "n": 13},
        {"exchange": "coinbase", "n": 17},
    ]


def test_sql_takes_parameters(golden_root):
    table = xle.open(golden_root).sql("SELECT count(*) AS n FROM raw WHERE recv_ns > $t", {"t": 0})
    assert table.column("n").to_pylist() == [30]


def test_sql_error_is_a_one_line_usage_error(golden_root):
    with pytest.raises(xle.UsageError, match="Table with name nope does not exist") as caught:
        xle.open(golden_root).sql("SELECT * FROM nope")
    assert "\n" not in str(caught.value)


def test_audit_is_what_xle_audit_json_prints(golden_root, cli):
    report = xle.open(golden_root).audit()
    result = cli("audit", "--data", golden_root, "--json")
    assert isinstance(report, xle.AuditReport)
    assert report.to_dict() == json.loads(result.stdout)


def test_tables_convert_to_pandas_and_polars(golden_root):
    pd = pytest.importorskip("pandas")
    pl = pytest.importorskip("polars")
    log = xle.open(golden_root)
    log.write_derived()
    quotes = log.quotes(columns=["recv_ns", "exchange", "symbol", "bid", "ask"])
    frame = quotes.to_pandas()
    assert isinstance(frame, pd.DataFrame)
    assert frame.to_dict("records") == quotes.to_pylist()
    polars_frame = pl.from_arrow(quotes)
    assert polars_frame.to_dicts() == quotes.to_pylist()


def test_config_given_to_open_is_the_default_of_replays(golden_root, tmp_path):
    config = tmp_path / "slow.toml"
    config.write_text("quote_interval_ms = 5000\n")
    fast = Counter(type(o).__name__ for o in xle.open(golden_root).replay())
    slow = Counter(type(o).__name__ for o in xle.open(golden_root, config=config).replay())
    assert slow["Quote"] < fast["Quote"]


def test_a_log_on_another_filesystem_reads_and_replays_like_the_local_one(golden_root):
    fs = pytest.importorskip("pyarrow.fs")
    sub = fs.SubTreeFileSystem(str(golden_root), fs.LocalFileSystem())
    log = xle.Log("mem://golden", sub, "", xle.load_config())
    assert log.raw().num_rows == 30
    assert list(log.replay()) == list(xle.open(golden_root).replay())


def test_log_repr_names_its_root(golden_root):
    assert repr(xle.open(golden_root)) == f"xle.Log({str(golden_root)!r})"


def test_paths_are_kept_as_given(golden_root, monkeypatch):
    monkeypatch.chdir(golden_root.parent)
    assert xle.open(Path(golden_root.name)).root == Path(golden_root.name)
