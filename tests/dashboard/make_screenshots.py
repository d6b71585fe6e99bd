"""Take the dashboard screenshots in docs/ (1440x900, dark and light, live and replay).

Run from the repository root: ``.venv/bin/python tests/dashboard/make_screenshots.py``
(needs /usr/bin/chromium; about a minute). Everything runs on 127.0.0.1:

- live: the simulator, the recorder against it and the dashboard, default config;
- replay: 40 s recorded from a busier simulator, stored with ``xle replay`` (so the episode
  table has DuckDB rows) and replayed with the taker fees of a high-volume tier
  (``FEES`` below), under which the simulator's dislocations clear the fees and open
  arbitrage episodes.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from playwright.sync_api import sync_playwright  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from xle.analytics.engine import Engine  # noqa: E402
from xle.cli import app as cli_app  # noqa: E402
from xle.config import load_config  # noqa: E402
from xle.dashboard import (  # noqa: E402
    DashboardServer,
    DashboardState,
    EpisodeHistory,
    LiveSession,
    ReplaySession,
    create_app,
    log_source,
)
from xle.recorder.live import DEFAULT_SYMBOLS, Recorder, RecorderConfig  # noqa: E402
from xle.simulator import SimConfig, start_in_thread  # noqa: E402

DOCS = HERE.parents[1] / "docs"
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
FEES = "[fees]\nbinance = 0.0002\nbinanceus = 0.0001\ncoinbase = 0.0004\n"


def _symbols() -> dict[str, list[str]]:
    return {venue: list(names) for venue, names in DEFAULT_SYMBOLS.items()}


def _shoot(browser, url: str, name: str, settle_s: float, loaded=None, shot=None) -> None:
    """Screenshot ``url`` in dark, then toggle to light (the button) and shoot again."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector("#clock", timeout=60_000)
    if loaded is not None:
        loaded()
    page.wait_for_selector(".ladder", timeout=60_000)
    page.wait_for_timeout(settle_s * 1000)
    page.screenshot(path=str(DOCS / f"dashboard-{name}-dark.png"))
    if shot is not None:
        shot()
    page.click("#theme-toggle")
    page.wait_for_timeout(2500)
    page.screenshot(path=str(DOCS / f"dashboard-{name}-light.png"))
    context.close()


def live(browser, root: Path) -> None:
    sim = start_in_thread(SimConfig(seed=1))
    state = DashboardState(Engine(load_config()))
    config = RecorderConfig(data_root=root, symbols=_symbols(), simulator=f"127.0.0.1:{sim.port}")
    session = LiveSession.from_config(state, config)
    server = DashboardServer(create_app(session, history=EpisodeHistory(root)), "127.0.0.1", 0)
    try:
        server.start()
        session.start()
        _shoot(browser, server.url, "live", settle_s=20)
    finally:
        server.stop()
        session.stop()
        sim.stop()


def replay(browser, root: Path) -> None:
    sim = start_in_thread(SimConfig(seed=5, binance_rate=40.0, coinbase_rate=80.0))
    recorder = Recorder(
        RecorderConfig(data_root=root, symbols=_symbols(), simulator=f"127.0.0.1:{sim.port}")
    )
    handle = recorder.start_in_thread()
    time.sleep(40)
    handle.stop()
    handle.join()
    sim.stop()
    fees = root / "fees.toml"
    fees.write_text(FEES)
    config = load_config(fees)
    state = DashboardState(Engine(config))
    first = last = None
    from xle.store.reader import read_records

    for rec in read_records(root).records():
        first = rec.recv_ns if first is None else min(first, rec.recv_ns)
        last = rec.recv_ns if last is None else max(last, rec.recv_ns)
    assert first is not None and last is not None
    result = CliRunner().invoke(
        cli_app,
        ["replay", "--from", str(first), "--to", str(last), "--data", str(root),
         "--config", str(fees)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    session = ReplaySession(
        state, log_source(root, last), first, last, lambda: Engine(config), speed=3.0
    ).start()
    server = DashboardServer(
        create_app(session, history=EpisodeHistory(root, first, last)), "127.0.0.1", 0
    )
    try:
        server.start()
        _shoot(browser, server.url, "replay", settle_s=6.0, loaded=session.play, shot=session.pause)
    finally:
        server.stop()
        session.stop()


def main() -> None:
    DOCS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        live(browser, Path(tmp) / "live")
        replay(browser, Path(tmp) / "replay")
        browser.close()
    print("wrote", ", ".join(sorted(p.name for p in DOCS.glob("dashboard-*.png"))))


if __name__ == "__main__":
    main()
