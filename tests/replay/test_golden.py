"""Golden replays: small logs replayed, outputs compared byte for byte.

Two logs: ``real`` (a real Binance / Binance.US capture, read from ``../shared/data/real``
and skipped when that folder is absent) and ``tests/data/golden`` (hand-made Binance
BTCUSDT + Coinbase BTC-USD with arbitrage episodes, gaps, resyncs, a malformed frame and a
disconnect; see make_golden.py). Expected files live in ``tests/data/expected/<log>/``;
``--regen-golden`` rewrites them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.realdata import copy_log, require_real
from tests.replay.conftest import DATA, EXPECTED, Cli
from tests.replay.golden import TABLES, check, export, tree_bytes
from xle._native.book import columnar_lane

WINDOWS = {
    "golden": ("2024-01-02T03:00:00Z", "2024-01-02T03:01:00Z"),
    "real": ("2021-10-12T00:00:00Z", "2021-10-12T01:00:00Z"),
}

BOOKS = [
    ("golden", "binance", "BTCUSDT", "2024-01-02T03:00:05Z", ()),
    ("golden", "coinbase", "BTC-USD", "2024-01-02T03:00:05Z", ()),
    ("golden", "binance", "BTCUSDT", "2024-01-02T03:00:07.2Z", ()),
    ("golden", "coinbase", "BTC-USD", "2024-01-02T03:00:59Z", ("--vwap", "0.25")),
    ("real", "binance", "NKNUSDT", "2021-10-12T00:30:00Z", ()),
    ("real", "binanceus", "COMPUSDT", "2021-10-12T00:30:00Z", ("--depth", "5")),
]


def source(log: str) -> Path:
    """The committed hand-made log, or the real capture from the shared data folder."""
    return DATA / log if log == "golden" else require_real(log)


#: The two ways a replay feeds the engine: Arrow record batches through the compiled
#: columnar lane (the default when it is built), and RawRecords (``XLE_NO_COLUMNAR=1``).
PATHS = ("columnar", "records")


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Each log copied once per path and replayed over its whole window with the CLI, on
    first use (so a missing real capture skips only the tests that need it)."""
    roots: dict[tuple[str, str], Path] = {}

    def get(log: str, path: str = "columnar") -> Path:
        if path == "columnar" and columnar_lane() is None:
            pytest.skip("the compiled core is not built: no columnar lane")
        if (log, path) not in roots:
            root = copy_log(source(log), tmp_path_factory.mktemp("golden") / log)
            start, end = WINDOWS[log]
            with pytest.MonkeyPatch.context() as patch:
                if path == "records":
                    patch.setenv("XLE_NO_COLUMNAR", "1")
                result = Cli()("replay", "--data", root, "--from", start, "--to", end)
            assert result.exit_code == 0, result.stderr
            roots[(log, path)] = root
        return roots[(log, path)]

    return get


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("table", TABLES)
@pytest.mark.parametrize("log", sorted(WINDOWS))
def test_replayed_table_matches_expected(
    replayed: Callable[..., Path], log: str, table: str, path: str, regen_golden: bool
) -> None:
    check(
        EXPECTED / log / f"{table}.jsonl",
        export(replayed(log, path), table),
        regen_golden and path == "records",
    )


@pytest.mark.parametrize("log", sorted(WINDOWS))
def test_both_paths_write_byte_identical_derived_files(
    replayed: Callable[..., Path], log: str
) -> None:
    columnar = tree_bytes(replayed(log, "columnar") / "derived")
    records = tree_bytes(replayed(log, "records") / "derived")
    assert columnar, "the replay wrote no derived file"
    assert columnar == records


@pytest.mark.parametrize(("log", "exchange", "symbol", "at", "extra"), BOOKS)
def test_book_json_matches_expected(
    cli: Cli,
    log: str,
    exchange: str,
    symbol: str,
    at: str,
    extra: tuple[str, ...],
    regen_golden: bool,
) -> None:
    args = ["book", "--data", source(log), "--exchange", exchange, "--symbol", symbol, "--at", at]
    result = cli(*args, *extra, "--json")
    assert result.exit_code == 0, result.stderr
    stamp = at.replace(":", "").replace("-", "").rstrip("Z")
    check(EXPECTED / log / f"book-{exchange}-{symbol}-{stamp}.json", result.stdout, regen_golden)


@pytest.mark.parametrize("log", sorted(WINDOWS))
def test_audit_json_matches_expected(cli: Cli, log: str, regen_golden: bool) -> None:
    result = cli("audit", "--data", source(log), "--json")
    assert result.exit_code == 0, result.stderr
    check(EXPECTED / log / "audit.json", result.stdout, regen_golden)


def test_golden_log_holds_the_story_it_was_built_for(replayed: Callable[[str], Path]) -> None:
    """Guards the fixture itself: a regenerated log must still exercise every path."""
    root = replayed("golden")
    episodes = [json.loads(line) for line in export(root, "arbitrage").splitlines()]
    closed = [e for e in episodes if e["status"] == "closed"]
    assert [e["close_reason"] for e in closed] == ["edge", "book_unsynced", "end_of_data"]
    assert all(e["buy_venue"] == "binance:BTCUSDT" for e in closed)
    assert all(e["peak_edge_bps"] > 0 and e["profit"] > 0 for e in closed)
    events = [json.loads(line) for line in export(root, "integrity").splitlines()]
    kinds = {(e["exchange"], e["kind"]) for e in events}
    assert {("binance", "gap"), ("binance", "resync"), ("coinbase", "gap")} <= kinds
    assert {("coinbase", "resync"), ("binance", "malformed"), ("coinbase", "disconnect")} <= kinds


def test_real_capture_rebuilds_every_book_synced_without_gaps(
    replayed: Callable[[str], Path],
) -> None:
    events = [json.loads(line) for line in export(replayed("real"), "integrity").splitlines()]
    assert {e["kind"] for e in events} <= {"stale"}
    quotes = [json.loads(line) for line in export(replayed("real"), "quotes").splitlines()]
    assert len({(q["exchange"], q["symbol"]) for q in quotes}) == 8


def _replay_trace(log: str, start: str, end: str, path: str) -> list[tuple[object, ...]]:
    """Every output of ``Log.replay`` over ``[start, end]``, with the position and the
    books' tops as seen at that output, then the record counts."""
    import xle

    with pytest.MonkeyPatch.context() as patch:
        if path == "records":
            patch.setenv("XLE_NO_COLUMNAR", "1")
        replay = xle.open(source(log)).replay(start, end)
        trace = []
        for out in replay:
            books = tuple(
                replay.engine.book_view(exchange, symbol, 1)
                for exchange, symbol in replay.engine.book_keys()
            )
            trace.append((out, replay.position_ns, books))
        trace.append((replay.records, replay.warmup_records))
    return trace


@pytest.mark.parametrize(
    ("start", "end"),
    [WINDOWS["golden"], ("2024-01-02T03:00:07.1Z", "2024-01-02T03:00:40Z")],  # 2nd: a warm-up
)
def test_log_replay_is_identical_both_ways_output_by_output(start: str, end: str) -> None:
    if columnar_lane() is None:
        pytest.skip("the compiled core is not built: no columnar lane")
    columnar = _replay_trace("golden", start, end, "columnar")
    assert columnar == _replay_trace("golden", start, end, "records")
    assert len(columnar) > 10
