"""Fixtures of the dashboard tests: the golden log, sessions over it, a served app, Chromium.

Browser tests drive the real app in headless Debian Chromium through Playwright (never
``playwright install``). They are skipped, with the reason, only when ``/usr/bin/chromium``
is missing outside CI; in CI (``CI`` set) a missing browser is a failure.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from xle.analytics.engine import Engine
from xle.cli import app as cli_app
from xle.config import load_config
from xle.dashboard import (
    DashboardServer,
    DashboardState,
    EpisodeHistory,
    ReplaySession,
    create_app,
    log_source,
)

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden"
#: The golden log's story starts at T0 and ends before T0 + 11 s (tests/data/make_golden.py).
T0_NS = 1_704_164_400_000_000_000
T1_NS = T0_NS + 12_000_000_000
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def eventually(check: Callable[[], Any], timeout: float = 10.0, interval: float = 0.1) -> Any:
    """Retry ``check`` until it returns a truthy value; the last value or error otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"condition still false after {timeout} s: {value!r}")
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        time.sleep(interval)


@pytest.fixture
def golden_copy(tmp_path: Path) -> Path:
    """A private copy of tests/data/golden (so derived outputs never land in the repo)."""
    root = tmp_path / "golden"
    shutil.copytree(GOLDEN, root)
    return root


def replay_derived(root: Path) -> None:
    """``xle replay`` over the whole golden log: derived Parquet for the DuckDB views."""
    result = CliRunner().invoke(
        cli_app, ["replay", "--from", str(T0_NS), "--to", str(T1_NS), "--data", str(root)]
    )
    assert result.exit_code == 0, result.output


def played_state(root: Path, until_ns: int) -> DashboardState:
    """What a replay of [T0, T1] that played up to ``until_ns`` (inclusive) has ingested."""
    from xle.store.reader import read_records

    state = DashboardState(Engine(load_config()))
    for rec, warmup in read_records(root, T0_NS, T1_NS):
        if rec.recv_ns > until_ns:
            break
        state.ingest(rec, state.engine.on_record(rec), warmup=warmup)
    return state


def make_replay(root: Path, **kwargs: Any) -> ReplaySession:
    config = load_config()
    state = DashboardState(Engine(config))
    options = {"speed": 1.0, "playing": False, **kwargs}
    session = ReplaySession(
        state, log_source(root, T1_NS), T0_NS, T1_NS, lambda: Engine(config), **options
    )
    session.start()
    assert session.wait_idle(), "replay did not finish warming up"
    return session


@pytest.fixture
def replay_session(golden_copy: Path) -> Iterator[ReplaySession]:
    session = make_replay(golden_copy)
    yield session
    session.stop()


# --------------------------------------------------------------------------- browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Module-scoped: Playwright's sync API keeps an asyncio loop running in the main
    thread while it is open, which would break every later test calling asyncio.run()."""
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing in CI (install Debian's chromium package)")
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium); browser tests skipped")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def new_page(browser: Any) -> Any:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    return page


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh 1440x900 page with its own storage (no theme carried between tests)."""
    page = new_page(browser)
    yield page
    page.context.close()


@pytest.fixture
def serve() -> Iterator[Callable[..., DashboardServer]]:
    """``serve(session, history)`` -> a running server on 127.0.0.1:<free port>."""
    servers: list[DashboardServer] = []

    def start(session: Any, history: EpisodeHistory | None = None) -> DashboardServer:
        server = DashboardServer(create_app(session, history=history), "127.0.0.1", 0).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
