"""The dashboard in headless Chromium, live: simulator -> recorder -> engine -> page.

Everything runs on 127.0.0.1: the in-process simulator speaks the venues' protocols, the
recorder connects to it over real WebSockets and writes its log under a temporary
directory, and the page polls the engine the recorder feeds.
"""

from __future__ import annotations

import time

import pytest

from xle.analytics.engine import Engine
from xle.config import load_config
from xle.dashboard import DashboardServer, DashboardState, EpisodeHistory, LiveSession, create_app
from xle.recorder.live import DEFAULT_SYMBOLS, RecorderConfig
from xle.simulator import SimConfig, start_in_thread

from .conftest import eventually, new_page
from .pages import expected_ladder, ladder_rows, text

pytestmark = pytest.mark.browser

BTC_BOOKS = ["binance:BTCUSDT", "binanceus:BTCUSD", "coinbase:BTC-USD"]


def _views(state: DashboardState) -> dict:
    with state.lock:
        engine = state.engine
        return {key: engine.book_view(*key) for key in engine.book_keys()}


def test_live_ladders_show_the_books_the_recorder_feeds_the_engine(browser, tmp_path):
    sim = start_in_thread(SimConfig(seed=7))
    state = DashboardState(Engine(load_config()))
    symbols = {venue: list(names) for venue, names in DEFAULT_SYMBOLS.items()}
    config = RecorderConfig(data_root=tmp_path, symbols=symbols, simulator=f"127.0.0.1:{sim.port}")
    session = LiveSession.from_config(state, config)
    server = DashboardServer(create_app(session, history=EpisodeHistory(tmp_path)), "127.0.0.1", 0)
    page = new_page(browser)
    try:
        server.start()
        session.start()
        page.goto(server.url)
        assert "LIVE" in text(page, ".mode")
        eventually(lambda: all(ladder_rows(page, label) for label in BTC_BOOKS), timeout=30)
        eventually(lambda: text(page, "#market") == "BTC/USD")

        # Freeze the market, wait until the engine has seen the last frames, compare.
        sim.pause()
        previous = None
        for _ in range(50):
            current = _views(state)
            if current == previous:
                break
            previous = current
            time.sleep(0.3)
        for label in BTC_BOOKS:
            view = previous[tuple(label.split(":"))]
            assert view.status == "synced"
            want = expected_ladder(view, 15)
            assert all(row[1] and row[2] for row in want)  # 15 levels on each side
            eventually(lambda label=label, want=want: ladder_rows(page, label) == want)
        assert text(page, ".ladder[data-book='coinbase:BTC-USD'] .badge").lower() == "synced"
        page.click("#market")
        assert page.get_by_role("option", name="ETH/USD").count() == 1
    finally:
        page.context.close()
        server.stop()
        session.stop()
        sim.stop()
    assert list(tmp_path.glob("raw/exchange=coinbase/date=*/hour=*/*.parquet"))
