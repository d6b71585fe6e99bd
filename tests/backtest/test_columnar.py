"""Backtests on the engine's columnar lane give the results of the RawRecord path.

``xle.backtest`` feeds record batches through the compiled lane when it is built; with
``XLE_NO_COLUMNAR=1`` it feeds RawRecords. The lane stops for everything a backtest must
see, so orders, fills, equity, the digest and every callback must come out the same.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.backtest.helpers import GOLDEN_RANGE, REAL_2024, example, golden_copy
from tests.engine.randomlog import SECOND, random_log, steps
from tests.engine.wire import RUN
from xle._native.book import columnar_lane
from xle.backtesting import Strategy, backtest
from xle.store.writer import LogWriter

pytestmark = pytest.mark.skipif(columnar_lane() is None, reason="the compiled core is not built")

BOOKS = (("binance", "BTCUSDT"), ("coinbase", "BTC-USD"))


class Watcher(Strategy):
    """Records every callback with the time and the book's best prices it saw."""

    def __init__(self, events: tuple[str, ...], books=BOOKS) -> None:
        self.events = events
        self.books = books
        self.calls: list[tuple[object, ...]] = []

    def on_start(self, ctx) -> None:
        for venue, symbol in self.books:
            ctx.subscribe(venue, symbol, events=self.events)

    def on_book(self, ctx, book) -> None:
        self.calls.append(
            ("book", ctx.now_ns, book.exchange, book.symbol, book.best_bid, book.best_ask)
        )

    def on_quote(self, ctx, quote) -> None:
        self.calls.append(("quote", ctx.now_ns, quote.exchange, quote.recv_ns, quote.mid))

    def on_trade(self, ctx, trade) -> None:
        self.calls.append(("trade", ctx.now_ns, trade.exchange, trade.trade_id))


@contextlib.contextmanager
def _columnar(on: bool) -> Iterator[None]:
    """The columnar lane on, or off as ``XLE_NO_COLUMNAR=1`` turns it off (not a
    ``monkeypatch``: the property test switches it within one test call)."""
    with mock.patch.dict(os.environ):
        os.environ.pop("XLE_NO_COLUMNAR", None)
        if not on:
            os.environ["XLE_NO_COLUMNAR"] = "1"
        yield


def _both_ways(make, root: Path, start=None, end=None, **kw):
    """The backtest on the lane, then on RawRecords."""
    with _columnar(True):
        columnar = backtest(make(), root, start, end, **kw)
    with _columnar(False):
        records = backtest(make(), root, start, end, **kw)
    return columnar, records


def _same(a, b) -> None:
    assert a.digest == b.digest
    for table in ("orders", "fills", "positions", "equity"):
        assert getattr(a, table).equals(getattr(b, table)), table
    assert a.summary == b.summary


@pytest.mark.parametrize("name", ["market_maker", "taker_arbitrage"])
@pytest.mark.parametrize("latency", [None, "3ms"])
def test_examples_give_identical_results_both_ways(
    tmp_path: Path, name: str, latency: str | None
) -> None:
    root = golden_copy(tmp_path)
    module = example(name)
    make = module.MarketMaker if name == "market_maker" else module.TakerArbitrage
    columnar, records = _both_ways(make, root, *GOLDEN_RANGE, latency=latency)
    _same(columnar, records)
    assert records.summary["orders"] > 0


@pytest.mark.parametrize("events", [("top",), ("book",), ("top", "quotes", "trades")])
def test_callbacks_are_identical_both_ways(tmp_path: Path, events: tuple[str, ...]) -> None:
    root = golden_copy(tmp_path)
    watchers: list[Watcher] = []

    def make() -> Watcher:
        watchers.append(Watcher(events))
        return watchers[-1]

    _same(*_both_ways(make, root, *GOLDEN_RANGE))
    assert watchers[0].calls == watchers[1].calls
    assert watchers[0].calls


def test_top_subscription_calls_on_book_only_when_the_best_prices_change(
    tmp_path: Path,
) -> None:
    root = golden_copy(tmp_path)
    top, every = Watcher(("top",)), Watcher(("book",))
    backtest(top, root, *GOLDEN_RANGE)
    backtest(every, root, *GOLDEN_RANGE)
    assert 0 < len(top.calls) < len(every.calls)
    last: dict[tuple[str, str], tuple[object, object]] = {}
    for _, _, venue, symbol, bid, ask in top.calls:
        assert last.get((venue, symbol)) != (bid, ask)
        last[(venue, symbol)] = (bid, ask)


@pytest.mark.parametrize("events", [("top",), ("book",), ("book", "top")])
def test_a_book_or_top_subscription_on_real_data_is_identical_both_ways(
    events: tuple[str, ...],
) -> None:
    if not REAL_2024.is_dir():
        pytest.skip(f"real data not present: {REAL_2024}")
    books = (("binance", "BTCUSDT"), ("binance", "ETHUSDT"))
    watchers: list[Watcher] = []

    def make() -> Watcher:
        watchers.append(Watcher(events, books))
        return watchers[-1]

    window = ("2024-08-08T23:59:30Z", "2024-08-09T00:00:30Z")  # across midnight
    _same(*_both_ways(make, REAL_2024, *window))
    assert watchers[0].calls == watchers[1].calls
    assert len(watchers[0].calls) > 100


def test_trades_and_the_market_maker_on_real_data_are_identical_both_ways() -> None:
    """On the real capture the lane takes tickers and trades of unwatched books whole; a
    "trades" subscription, and a maker's resting orders, make the book watched."""
    if not REAL_2024.is_dir():
        pytest.skip(f"real data not present: {REAL_2024}")
    books = (("binance", "BTCUSDT"),)
    watchers: list[Watcher] = []

    def make() -> Watcher:
        watchers.append(Watcher(("top", "trades"), books))
        return watchers[-1]

    window = ("2024-08-08T23:59:50Z", "2024-08-09T00:00:10Z")
    _same(*_both_ways(make, REAL_2024, *window))
    assert watchers[0].calls == watchers[1].calls
    assert any(call[0] == "trade" for call in watchers[0].calls)
    maker = example("market_maker").MarketMaker
    columnar, records = _both_ways(
        lambda: maker(venue="binance:BTCUSDT", size="0.01"), REAL_2024, *window
    )
    _same(columnar, records)
    assert records.summary["fills"] > 0


class OnAndOff(Watcher):
    """Subscribed to ``events``, with a resting bid at Binance's touch now and then and a
    buy taking its best ask: its book is watched record by record while the order rests
    or taken liquidity waits for the venue's update, and left to the lane between."""

    def __init__(self, events=("book",), books=(("binance", "BTCUSDT"),), period=60) -> None:
        super().__init__(events, books)
        self.balances = {"binance": {"USDT": "10000000"}, "coinbase": {"USD": "10000000"}}
        self.period = period
        self.order: int | None = None

    def on_book(self, ctx, book) -> None:
        super().on_book(ctx, book)
        if (book.exchange, book.symbol) != ("binance", "BTCUSDT"):
            return
        phase = len(self.calls) % self.period
        if phase == 0 and self.order is None and book.synced and book.best_bid:
            self.order = ctx.buy("binance", "BTCUSDT", "0.001", limit=book.best_bid, tif="GTC")
        elif phase == 1 and book.synced and book.best_ask:  # takes liquidity, IOC
            ctx.buy("binance", "BTCUSDT", "0.001", limit=book.best_ask)
        elif phase == self.period // 2 and self.order is not None:
            ctx.cancel(self.order)
            self.order = None


def test_a_book_subscription_with_orders_now_and_then_is_identical_both_ways() -> None:
    if not REAL_2024.is_dir():
        pytest.skip(f"real data not present: {REAL_2024}")
    watchers: list[Watcher] = []

    def make() -> Watcher:
        watchers.append(OnAndOff())
        return watchers[-1]

    window = ("2024-08-08T23:59:30Z", "2024-08-09T00:00:30Z")
    columnar, records = _both_ways(make, REAL_2024, *window)
    _same(columnar, records)
    assert watchers[0].calls == watchers[1].calls
    assert records.summary["orders"] > 5
    assert records.summary["fills"] > 0


def test_a_top_subscription_sees_its_book_as_it_stands_when_the_run_starts(
    tmp_path: Path,
) -> None:
    root = golden_copy(tmp_path)
    first = Watcher(("top",))
    backtest(first, root, *GOLDEN_RANGE)
    start = first.calls[-1][1]  # a time well inside the log, books synced by then
    later = Watcher(("top",))
    backtest(later, root, start, GOLDEN_RANGE[1])
    shown = {(venue, symbol) for _, t, venue, symbol, _, _ in later.calls if t == start}
    assert shown == set(BOOKS)


def test_a_symbol_filter_gives_the_same_run_both_ways() -> None:
    """The lane skips the other symbols' rows itself (the reader does not copy the
    batches to drop them): the run equals the RawRecord path's on filtered records."""
    if not REAL_2024.is_dir():
        pytest.skip(f"real data not present: {REAL_2024}")
    books = (("binance", "BTCUSDT"),)
    watchers: list[Watcher] = []

    def make() -> Watcher:
        watchers.append(Watcher(("top",), books))
        return watchers[-1]

    window = ("2024-08-08T23:59:30Z", "2024-08-09T00:00:30Z")
    columnar, records = _both_ways(make, REAL_2024, *window, symbols=("BTCUSDT",))
    _same(columnar, records)
    assert watchers[0].calls == watchers[1].calls
    assert len(watchers[0].calls) > 50


class LateQuotes(Watcher):
    """Subscribes to quotes only from a timer on: the engine quotes from then on."""

    def __init__(self, after_ns: int) -> None:
        super().__init__(("top",))
        self.after_ns = after_ns

    def on_start(self, ctx) -> None:
        super().on_start(ctx)
        ctx.schedule(ctx.now_ns + self.after_ns)

    def on_timer(self, ctx, t_ns) -> None:
        for venue, symbol in self.books:
            ctx.subscribe(venue, symbol, events=("quotes",))


def test_quotes_subscribed_mid_run_are_identical_both_ways(tmp_path: Path) -> None:
    root = golden_copy(tmp_path)
    watchers: list[Watcher] = []

    def make() -> Watcher:
        watchers.append(LateQuotes(2_000_000_000))
        return watchers[-1]

    _same(*_both_ways(make, root, *GOLDEN_RANGE))
    assert watchers[0].calls == watchers[1].calls
    quoted = [call[1] for call in watchers[0].calls if call[0] == "quote"]
    first = watchers[0].calls[0][1]
    assert quoted and min(quoted) >= first + 2_000_000_000


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(steps, min_size=10, max_size=80),
    st.sampled_from([("book",), ("top",), ("book", "top"), ("book", "trades")]),
    st.sampled_from([2, 5, 1_000_000]),
)
def test_random_logs_give_the_same_backtest_both_ways(plan, events, period) -> None:
    """Every kind of trouble the decoders handle (gaps, stale frames, snapshots,
    disconnects, malformed frames, ...) in a log on disk, a strategy subscribed to both
    venues' books and trading now and then: the same run both ways. Both books start
    synced, so most of a log is the lane's to take."""
    records = random_log([("snapshot", [], [], SECOND), ("l2_snapshot", [], [], SECOND), *plan])
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        writer = LogWriter(root, RUN, roll_seconds=3600.0)
        try:
            for rec in records:
                writer.append(rec)
        finally:
            writer.close()
        runs: list[OnAndOff] = []

        def make() -> OnAndOff:
            runs.append(OnAndOff(events, BOOKS, period))
            return runs[-1]

        _same(*_both_ways(make, root))
    assert runs[0].calls == runs[1].calls
