"""A third venue added by one module (``fakevenue``) and its registry entry: recorded by
the real recorder from a loopback WebSocket server, replayed through the engine, queried
with DuckDB. Nothing else in xle names it."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import msgspec
import pytest
from websockets.asyncio.server import ServerConnection, serve

import xle
from xle.analytics.engine import Engine
from xle.config import load_config
from xle.exchanges import venue
from xle.exchanges.registry import EXCHANGES
from xle.recorder.live import Recorder, RecorderConfig
from xle.records import IntegrityEvent, Quote
from xle.store.seek import plan_seek
from xle.store.views import connect

SYMBOL = "FAKE-USD"
OTHER = "OTHER-USD"

#: What the server sends after a subscribe, in order (``seq`` is added per connection).
FRAMES: list[dict] = [
    {"ch": "book", "sym": SYMBOL, "type": "snapshot",
     "bids": [["100.0", "1"], ["99.5", "2"]], "asks": [["100.5", "1"], ["101", "3"]]},
    {"ch": "book", "sym": OTHER, "type": "snapshot",
     "bids": [["20.0", "5"]], "asks": [["20.5", "5"]]},
    {"ch": "book", "sym": SYMBOL, "type": "update", "bids": [["100.2", "0.5"]], "asks": []},
    {"ch": "book", "sym": OTHER, "type": "update", "bids": [["20.1", "1"]], "asks": []},
    {"ch": "book", "sym": SYMBOL, "type": "update", "bids": [], "asks": [["100.5", "0"]]},
    {"ch": "trade", "sym": SYMBOL, "id": "17", "px": "100.6", "qty": "0.5", "side": "buy"},
    {"ch": "trade", "sym": OTHER, "id": "18", "px": "20.2", "qty": "1", "side": "sell"},
    {"ch": "trade", "sym": SYMBOL, "id": "19", "px": "101", "qty": "0.25", "side": "buy"},
]  # fmt: skip
#: Time between frames: more than the replay's quote interval, so every change is quoted.
GAP_S = 0.02
QUOTE_INTERVAL_NS = 5_000_000


async def _serve(ws: ServerConnection) -> None:
    request = msgspec.json.decode(await ws.recv())
    assert request == {"op": "subscribe", "symbols": [SYMBOL, OTHER]}
    for seq, frame in enumerate(FRAMES, start=1):
        await ws.send(msgspec.json.encode({**frame, "seq": seq}).decode())
        await asyncio.sleep(GAP_S)
    await ws.wait_closed()


async def _record(root: Path) -> tuple[Recorder, bool]:
    """Record until every frame is in; also whether the live engine synced the book."""
    async with serve(_serve, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        config = RecorderConfig(
            data_root=root,
            symbols={"fakevenue": [SYMBOL, OTHER]},
            ws_urls={"fakevenue": f"ws://127.0.0.1:{port}"},
            flush_seconds=0.1,
        )
        recorder = Recorder(config, engine=Engine(load_config()))
        task = asyncio.create_task(recorder.run())
        async with asyncio.timeout(20):
            while recorder.stats["fakevenue"].frames < len(FRAMES):
                await asyncio.sleep(0.02)
        synced = recorder.engine is not None and recorder.engine.is_synced("fakevenue", SYMBOL)
        recorder.stop()
        await task
    return recorder, synced


@pytest.fixture(scope="module")
def recorded(fakevenue, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Recorder, bool]:
    root = tmp_path_factory.mktemp("fakevenue")
    return root, *asyncio.run(_record(root))


def _config():
    return dataclasses.replace(load_config(), quote_interval_ns=QUOTE_INTERVAL_NS)


def test_the_fake_venue_is_registered_by_importing_its_module(fakevenue):
    assert venue("fakevenue") is fakevenue.SPEC
    assert "fakevenue" in EXCHANGES
    assert load_config().market_of("fakevenue", SYMBOL) == "FAKE/USD"


def test_the_recorder_records_the_fake_venue_and_syncs_it_live(recorded):
    _root, recorder, live_synced = recorded
    assert recorder.venues == ["fakevenue"]
    assert recorder.stats["fakevenue"].frames == len(FRAMES)
    assert live_synced


def test_duckdb_queries_the_fake_venue_raw_rows(recorded):
    root, _recorder, _synced = recorded
    con = connect(root)
    rows = con.execute(
        "SELECT stream, symbol, payload FROM raw"
        " WHERE exchange = 'fakevenue' AND kind = 'ws' ORDER BY seq"
    ).fetchall()
    expected = [(f["ch"], f["sym"]) for f in FRAMES]
    assert [(stream, symbol) for stream, symbol, _payload in rows] == expected
    seqs = [msgspec.json.decode(payload)["seq"] for _stream, _symbol, payload in rows]
    assert seqs == list(range(1, len(FRAMES) + 1))
    events = con.execute(
        "SELECT stream FROM raw WHERE exchange = 'fakevenue' AND kind = 'event' ORDER BY seq"
    ).fetchall()
    assert ("connected",) in events and ("subscribed",) in events


def test_replay_syncs_the_fake_venue_books_and_quotes_them(recorded):
    root, _recorder, _synced = recorded
    log = xle.open(root, config=_config())
    assert log.exchanges == ["fakevenue"]
    replay = log.replay()
    outputs = list(replay)
    quotes = [o for o in outputs if isinstance(o, Quote) and o.symbol == SYMBOL]
    assert quotes and all(q.exchange == "fakevenue" and q.market == "FAKE/USD" for q in quotes)
    assert (quotes[0].bid, quotes[0].ask) == (100.0, 100.5)
    assert (quotes[-1].bid, quotes[-1].ask) == (100.2, 101.0)
    assert replay.engine.is_synced("fakevenue", SYMBOL)
    assert replay.engine.is_synced("fakevenue", OTHER)
    assert [o for o in outputs if isinstance(o, IntegrityEvent) and o.kind == "gap"] == []


def test_a_symbol_filter_keeps_the_whole_connection_of_a_per_connection_venue(recorded):
    """``seq`` counts both symbols' frames: pruning OTHER-USD's rows would be a gap."""
    root, _recorder, _synced = recorded
    replay = xle.open(root, config=_config()).replay(symbols=SYMBOL)
    outputs = list(replay)
    assert not [o for o in outputs if isinstance(o, IntegrityEvent) and o.kind == "gap"]
    assert replay.engine.is_synced("fakevenue", SYMBOL)


def test_seek_finds_the_fake_venue_snapshots_in_the_stream(recorded):
    root, _recorder, _synced = recorded
    con = connect(root)
    (last_ns,) = con.execute(
        "SELECT max(recv_ns) FROM raw WHERE exchange = 'fakevenue' AND kind = 'ws'"
    ).fetchone()
    plan = plan_seek(root, last_ns, exchanges=["fakevenue"], margin_ns=0)
    assert set(plan.snapshots) == {("fakevenue", SYMBOL), ("fakevenue", OTHER)}
    assert plan.without_snapshot == set()
