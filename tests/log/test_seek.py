"""Seek (docs/design.md, "Seek"): replaying from T0 rebuilds exactly the books of a full replay."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.realdata import require_real
from xle.analytics.engine import Engine
from xle.config import load_config
from xle.store.reader import read_records
from xle.store.seek import plan_seek

from .conftest import HOUR, write_log_file

#: The whole module replays the real capture; it skips when the shared data is absent.
REAL_ROOT = require_real("real")
REAL = list(read_records(REAL_ROOT).records())


def fractions_of(exchange: str, *fractions: float) -> list[int]:
    times = [r.recv_ns for r in REAL if r.exchange == exchange]
    return [times[0] + int((times[-1] - times[0]) * f) for f in fractions]


def full_replay_until(root: Path, t0: int) -> Engine:
    engine = Engine(load_config(None))
    for rec in read_records(root, end_ns=t0 - 1).records():
        engine.on_record(rec)
    return engine


def seek_replay_until(root: Path, t0: int, **options) -> tuple[Engine, int]:
    """Feed only the warm-up records of ``read_records(t0)``; returns the engine and count."""
    engine = Engine(load_config(None))
    fed = 0
    for rec, warm_up in read_records(root, t0, None, **options):
        if not warm_up:
            break
        engine.on_record(rec)
        fed += 1
    return engine, fed


def assert_same_books(full: Engine, seek: Engine) -> None:
    keys = full.book_keys()
    assert keys, "the full replay built no book"
    for exchange, symbol in keys:
        want = full.book_view(exchange, symbol)
        got = seek.book_view(exchange, symbol)
        assert got is not None, f"{exchange}:{symbol} missing after seek"
        assert (got.status, got.bids, got.asks) == (want.status, want.bids, want.asks), (
            f"{exchange}:{symbol} differs"
        )


UPDATE_ID = re.compile(rb'"(U|u|lastUpdateId)":(\d+)')
#: Added to every Binance update id of the replayed-again traffic: an hour later the
#: exchange's ids are far ahead, as they would be for a real recorder restart.
ID_SHIFT = 10_000_000_000


def _later_ids(payload: bytes) -> bytes:
    return UPDATE_ID.sub(lambda m: b'"%s":%d' % (m[1], int(m[2]) + ID_SHIFT), payload)


def restarted_log(root: Path) -> list:
    """The real capture, then the same traffic an hour later from a restarted recorder."""
    again = [
        r.__replace__(recv_ns=r.recv_ns + HOUR, run="restart", payload=_later_ids(r.payload))
        for r in REAL
    ]
    for exchange in ("binance", "binanceus"):
        write_log_file(root, [r for r in REAL if r.exchange == exchange], "sample-0.parquet")
        write_log_file(root, [r for r in again if r.exchange == exchange], "restart-0.parquet")
    return REAL + again


@pytest.mark.parametrize(
    "t0",
    [
        *fractions_of("binance", 0.25, 0.5, 0.75, 1.0),
        *fractions_of("binanceus", 0.1, 0.5, 0.9),
    ],
)
def test_seek_into_the_real_capture_gives_the_full_replay_books(t0: int):
    full = full_replay_until(REAL_ROOT, t0)
    seek, _ = seek_replay_until(REAL_ROOT, t0)
    assert_same_books(full, seek)
    assert any(full.book_view(*k).status == "synced" for k in full.book_keys())


@pytest.mark.parametrize("fraction", [0.2, 0.5, 0.8, 1.0])
def test_seek_after_a_recorder_restart_gives_the_full_replay_books(root: Path, fraction: float):
    restarted_log(root)
    t0 = fractions_of("binance", fraction)[0] + HOUR
    full = full_replay_until(root, t0)
    seek, _ = seek_replay_until(root, t0)
    assert_same_books(full, seek)
    synced = [k for k in full.book_keys() if full.book_view(*k).status == "synced"]
    assert len(synced) >= 4


@pytest.mark.parametrize("fraction", [0.5, 1.0])
def test_seek_after_every_book_resnapshotted_skips_the_earlier_run(root: Path, fraction: float):
    """Once the restarted run has re-snapshotted every book, hour 00 is not read at all."""
    records = restarted_log(root)
    t0 = fractions_of("binance", fraction)[0] + HOUR
    plan = plan_seek(root, t0)
    assert plan.read_from_ns is not None and plan.read_from_ns > REAL[-1].recv_ns
    files = read_records(root, plan.read_from_ns, warm_up=False).files()
    assert files and all("hour=01" in f.as_posix() for f in files)
    _, fed = seek_replay_until(root, t0)
    assert fed == sum(plan.read_from_ns <= r.recv_ns < t0 for r in records)


def test_a_book_without_snapshot_before_t0_replays_from_the_start(root: Path):
    no_snapshot = [r for r in REAL if not (r.kind == "rest" and r.symbol == "NKNUSDT")]
    for exchange in ("binance", "binanceus"):
        write_log_file(root, [r for r in no_snapshot if r.exchange == exchange], "s-0.parquet")
    t0 = fractions_of("binance", 0.5)[0]
    plan = plan_seek(root, t0)
    assert ("binance", "NKNUSDT") in plan.without_snapshot
    assert plan.read_from_ns is None
    seek, fed = seek_replay_until(root, t0)
    assert fed == sum(r.recv_ns < t0 for r in no_snapshot)
    assert_same_books(full_replay_until(root, t0), seek)


def test_plan_finds_the_latest_snapshot_of_every_book(root: Path):
    restarted_log(root)
    t0 = fractions_of("binance", 1.0)[0] + HOUR
    plan = plan_seek(root, t0, margin_ns=0)
    rest = {(r.exchange, r.symbol): r.recv_ns + HOUR for r in REAL if r.kind == "rest"}
    assert plan.snapshots == rest
    assert plan.read_from_ns == min(rest.values())


def test_seek_with_a_symbol_filter_plans_only_those_books(root: Path):
    restarted_log(root)
    t0 = fractions_of("binance", 0.5)[0] + HOUR
    plan = plan_seek(root, t0, exchanges=["binance"], symbols=["LRCBTC"])
    assert set(plan.snapshots) == {("binance", "LRCBTC")}
    got = {
        r.symbol
        for r in read_records(root, t0, exchanges=["binance"], symbols=["LRCBTC"]).records()
    }
    assert got <= {"LRCBTC", None}


def test_warm_up_flags_exactly_the_records_before_t0(root: Path):
    restarted_log(root)
    t0 = fractions_of("binance", 0.5)[0] + HOUR
    flags = [(rec.recv_ns < t0) == warm for rec, warm in read_records(root, t0, t0 + 10**9)]
    assert flags and all(flags)


def test_t0_before_any_record_needs_no_warm_up():
    t0 = REAL[0].recv_ns - 1
    plan = plan_seek(REAL_ROOT, t0)
    assert plan.read_from_ns == t0 and not plan.books


def test_plan_takes_the_latest_snapshot_when_two_runs_share_an_hour(root: Path):
    later = 30 * 60 * 10**9  # still inside hour 00
    binance = [r for r in REAL if r.exchange == "binance"]
    again = [
        r.__replace__(recv_ns=r.recv_ns + later, run="restart", payload=_later_ids(r.payload))
        for r in binance
    ]
    write_log_file(root, binance, "early-0.parquet")  # listed (and scanned) first
    write_log_file(root, again, "late-0.parquet")
    t0 = again[-1].recv_ns
    plan = plan_seek(root, t0, margin_ns=0)
    assert plan.snapshots == {(r.exchange, r.symbol): r.recv_ns for r in again if r.kind == "rest"}
    seek, _ = seek_replay_until(root, t0)
    assert_same_books(full_replay_until(root, t0), seek)
