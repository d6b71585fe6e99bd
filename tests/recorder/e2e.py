"""Simulator -> Recorder -> log -> read_records -> Engine, and the ground truth to compare with.

``record_scenario`` runs the real simulator (with faults) and a recorder with a live
engine against it over real WebSockets on 127.0.0.1, waits for a condition, pauses the
market, lets the recorder catch up and resync every book, stops it, and replays the log
through a fresh engine.

What "the true book" is at the end: the simulator writes every step of every book. For
Coinbase the market is frozen at the pause and heartbeats keep coming, so a frame lost
at the very end still shows up as a ``sequence_num`` gap, is resynced, and the book must
equal the final truth. Binance has no heartbeats, so a dropped *last* depth message is
undetectable by any client; there the book must equal the truth as of the newest update
id the recorder received (its last valid depth ``u`` or snapshot ``lastUpdateId``).
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import msgspec

from tests.recorder.conftest import FAST, read_log
from xle._native.book import format_decimal
from xle.analytics.engine import Engine, Output
from xle.config import load_config
from xle.recorder.live import DEFAULT_SYMBOLS, Recorder, RecorderConfig
from xle.records import IntegrityEvent, RawRecord
from xle.simulator import FaultConfig, SimConfig, final_truth, start_in_thread, truth_book_at

Levels = list[tuple[str, str]]


def plain(text: str) -> str:
    """An exchange decimal string without trailing zeros (``"0.35000"`` -> ``"0.35"``)."""
    return format(Decimal(text).normalize(), "f")


def truth_levels(levels: Levels) -> Levels:
    return [(plain(p), plain(q)) for p, q in levels]


def engine_levels(levels: list[tuple[float, float]]) -> Levels:
    return [(format_decimal(p), format_decimal(q)) for p, q in levels]


@dataclass
class Scenario:
    """Everything a test may assert on after ``record_scenario``."""

    recorder: Recorder
    records: list[RawRecord]
    live_outputs: list[Output]
    replay: Engine
    replay_outputs: list[Output]
    truth_dir: Path
    faults_seen: dict[str, int] = field(default_factory=dict)

    def integrity(self, kind: str, outputs: list[Output] | None = None) -> list[IntegrityEvent]:
        source = self.replay_outputs if outputs is None else outputs
        return [o for o in source if isinstance(o, IntegrityEvent) and o.kind == kind]

    def frames(self, exchange: str) -> list[RawRecord]:
        return [r for r in self.records if r.kind == "ws" and r.exchange == exchange]


class _Depth(msgspec.Struct):
    U: int
    u: int
    b: list[tuple[str, str]]
    a: list[tuple[str, str]]


class _Wrapped(msgspec.Struct):
    data: _Depth


class _Snapshot(msgspec.Struct):
    lastUpdateId: int


def _valid_depth(payload: bytes) -> _Depth | None:
    try:
        depth = msgspec.json.decode(payload, type=_Wrapped).data
        for p, q in depth.b + depth.a:
            float(p), float(q)
    except (msgspec.DecodeError, msgspec.ValidationError, ValueError):
        return None
    return depth


def last_known_update_id(records: list[RawRecord], exchange: str, symbol: str) -> int:
    """Newest update id the recorder received for a Binance book (depth ``u`` or snapshot)."""
    best = 0
    stream = f"{symbol.lower()}@depth@100ms"
    for rec in records:
        if rec.exchange != exchange or rec.symbol != symbol:
            continue
        if rec.kind == "ws" and rec.stream == stream:
            depth = _valid_depth(rec.payload)
            if depth is not None:
                best = max(best, depth.u)
        elif rec.kind == "rest":
            with contextlib.suppress(msgspec.DecodeError, msgspec.ValidationError):
                best = max(best, msgspec.json.decode(rec.payload, type=_Snapshot).lastUpdateId)
    return best


def expected_book(scenario: Scenario, exchange: str, symbol: str) -> tuple[Levels, Levels]:
    if exchange == "coinbase":
        truth = final_truth(scenario.truth_dir, exchange, symbol)
    else:
        upto = last_known_update_id(scenario.records, exchange, symbol)
        truth = truth_book_at(scenario.truth_dir, exchange, symbol, upto)
    return truth_levels(truth.bids), truth_levels(truth.asks)


def replayed_book(scenario: Scenario, exchange: str, symbol: str) -> tuple[str, Levels, Levels]:
    view = scenario.replay.book_view(exchange, symbol)
    assert view is not None, f"{exchange} {symbol}: no book in the replay"
    return view.status, engine_levels(view.bids), engine_levels(view.asks)


def record_scenario(
    tmp_path: Path,
    *,
    faults: FaultConfig | None = None,
    until=None,
    min_seconds: float = 2.0,
    timeout: float = 25.0,
    symbols: dict[str, list[str]] | None = None,
    seed: int = 7,
    sim_overrides: dict | None = None,
) -> Scenario:
    """Record from a fresh simulator until ``until(recorder, live_outputs)`` and replay."""
    truth_dir = tmp_path / "truth"
    data_root = tmp_path / "data"
    sim_cfg = SimConfig(
        seed=seed,
        truth_dir=truth_dir,
        faults=faults or FaultConfig(),
        binance_rate=40.0,
        coinbase_rate=40.0,
        levels=60,
        **(sim_overrides or {}),
    )
    chosen = symbols or DEFAULT_SYMBOLS
    lock = threading.Lock()
    live: list[Output] = []
    engine = Engine(load_config())

    def synced_all() -> bool:
        with lock:
            return all(engine.is_synced(ex, s) for ex, syms in chosen.items() for s in syms)

    with start_in_thread(sim_cfg) as sim:
        cfg = RecorderConfig(
            data_root=data_root,
            symbols=chosen,
            simulator=f"127.0.0.1:{sim.port}",
            options=FAST,
            resync_timeout=2.0,
        )
        recorder = Recorder(cfg, engine=engine, listener=lambda r, o: live.extend(o), lock=lock)
        handle = recorder.start_in_thread()
        try:
            started = time.monotonic()
            deadline = started + timeout
            while (
                time.monotonic() - started < min_seconds
                or not synced_all()
                or (until is not None and not until(recorder, live))
            ):
                assert handle.is_alive(), f"recorder died: {handle.error!r}"
                assert time.monotonic() < deadline, "scenario condition not met in time"
                time.sleep(0.05)
            sim.pause()
            # Catch up: >= 2 Coinbase heartbeats after the pause (so a frame lost at the
            # very end shows as a sequence gap and is resynced), then every book synced.
            paused = time.monotonic()
            settle = 2.2 if "coinbase" in chosen else 0.5
            while time.monotonic() - paused < settle or not synced_all():
                assert handle.is_alive(), f"recorder died: {handle.error!r}"
                assert time.monotonic() < paused + 20, "books did not resync after the pause"
                time.sleep(0.05)
        finally:
            handle.stop()
            assert handle.join(30), "recorder did not stop"
    if handle.error is not None:
        raise handle.error
    records = read_log(data_root)
    replay = Engine(load_config())
    replay_outputs: list[Output] = []
    from xle.store.reader import read_records

    for rec in read_records(data_root).records():
        replay_outputs.extend(replay.on_record(rec))
    replay_outputs.extend(replay.finish())
    return Scenario(recorder, records, live, replay, replay_outputs, truth_dir)


def read_stats(path: Path) -> dict | None:
    """A recorder's ``--stats-file`` JSON, or None while it is missing or half-written."""
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def wait_for(predicate, timeout: float, proc: subprocess.Popen | None = None) -> None:
    """Poll ``predicate`` until true; fail at once if the ``xle record`` process died."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"xle record exited early ({proc.returncode}): {err or out}")
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)
