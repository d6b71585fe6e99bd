"""``xle replay``: determinism, the re-run / overlap rule, scopes, warm-up, pacing."""

from __future__ import annotations

import gc
import io
import shutil
from pathlib import Path

import pytest
from rich.console import Console

from tests.realdata import copy_log, require_real
from tests.replay.conftest import Cli
from tests.replay.golden import TABLES, count_rows, export, tree_bytes
from xle.cli.progress import ReplayProgress
from xle.config import load_config
from xle.replay.session import Pacer, collector_paused, log_inventory, run_replay
from xle.store.derived import Scope
from xle.store.views import connect
from xle.timeutil import parse_time

T0 = "2024-01-02T03:00:00Z"
T1 = "2024-01-02T03:01:00Z"
MID = "2024-01-02T03:00:05Z"


def _replay(cli: Cli, root: Path, start: str = T0, end: str = T1, *extra: str) -> str:
    result = cli("replay", "--data", root, "--from", start, "--to", end, *extra)
    assert result.exit_code == 0, result.stderr
    return result.stdout


def _derived(root: Path) -> dict[str, bytes]:
    return tree_bytes(root / "derived")


def _tables(root: Path) -> dict[str, str]:
    return {table: export(root, table) for table in TABLES}


def test_replaying_twice_writes_byte_identical_files(cli: Cli, golden_root: Path) -> None:
    _replay(cli, golden_root)
    first = _derived(golden_root)
    _replay(cli, golden_root)
    assert _derived(golden_root) == first
    assert len(first) == 5 and not [name for name in first if "/." in name]


def test_two_data_roots_get_the_same_bytes(cli: Cli, golden_root: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    shutil.copytree(golden_root, other)
    _replay(cli, golden_root)
    _replay(cli, other)
    assert _derived(golden_root) == _derived(other)


def test_rerun_replaces_its_outputs_without_duplicates(cli: Cli, golden_root: Path) -> None:
    _replay(cli, golden_root)
    counts = {table: count_rows(golden_root, table) for table in TABLES}
    _replay(cli, golden_root)
    _replay(cli, golden_root)
    assert {table: count_rows(golden_root, table) for table in TABLES} == counts
    assert counts == {"quotes": 11, "arbitrage": 6, "integrity": 8}


def test_narrower_replay_carves_its_window_out_of_a_wider_one(
    cli: Cli, golden_root: Path, tmp_path: Path
) -> None:
    full = tmp_path / "full"
    shutil.copytree(golden_root, full)
    _replay(cli, full)
    _replay(cli, golden_root)
    _replay(cli, golden_root, MID, T1)
    assert _tables(golden_root) == _tables(full)
    assert len(list((golden_root / "derived").rglob("*.parquet"))) > 5


def test_wider_replay_absorbs_the_narrower_ones_inside_it(
    cli: Cli, golden_root: Path, tmp_path: Path
) -> None:
    full = tmp_path / "full"
    shutil.copytree(golden_root, full)
    _replay(cli, full)
    _replay(cli, golden_root, MID, T1)
    _replay(cli, golden_root, "2024-01-02T03:00:02Z", "2024-01-02T03:00:09Z")
    _replay(cli, golden_root)
    assert _tables(golden_root) == _tables(full)
    assert _derived(golden_root) == _derived(full)


def test_disjoint_replays_accumulate(cli: Cli, golden_root: Path) -> None:
    _replay(cli, golden_root, T0, "2024-01-02T03:00:04.999999999Z")
    first = count_rows(golden_root, "quotes")
    _replay(cli, golden_root, MID, T1)
    con = connect(golden_root)
    total, distinct = con.execute(
        "SELECT count(*), count(DISTINCT (exchange, symbol, recv_ns, seq)) FROM quotes"
    ).fetchall()[0]
    assert 0 < first < total == distinct


def test_warm_up_outputs_are_not_stored(cli: Cli, golden_root: Path) -> None:
    _replay(cli, golden_root, MID, T1)
    start = parse_time(MID)
    con = connect(golden_root)
    for table in TABLES:
        oldest = con.execute(f"SELECT min(recv_ns) FROM {table}").fetchall()[0][0]
        assert oldest >= start, table


def test_exchange_scoped_rerun_leaves_other_exchanges_alone(cli: Cli, golden_root: Path) -> None:
    _replay(cli, golden_root)
    before = _tables(golden_root)
    out = _replay(cli, golden_root, T0, T1, "--exchange", "binance")
    assert _tables(golden_root) == before
    assert "binance; all symbols" in out


def test_symbol_scope_stores_only_that_symbols_rows(cli: Cli, golden_root: Path) -> None:
    _replay(cli, golden_root, T0, T1, "--symbol", "btc-usd")
    con = connect(golden_root)
    rows = con.execute("SELECT DISTINCT exchange, symbol FROM quotes ORDER BY ALL").fetchall()
    assert rows == [("coinbase", "BTC-USD")]
    assert con.execute("SELECT count(*) FROM integrity WHERE symbol IS NULL").fetchall()[0][0] == 0
    assert count_rows(golden_root, "arbitrage") == 0


def test_dry_run_writes_nothing_and_prints_the_summary(cli: Cli, golden_root: Path) -> None:
    out = _replay(cli, golden_root, T0, T1, "--dry-run")
    assert not (golden_root / "derived").exists()
    assert "dry run: nothing written" in out
    assert "3 opened, 3 closed" in out


def test_summary_reports_records_books_and_integrity(cli: Cli, golden_root: Path) -> None:
    out = _replay(cli, golden_root, MID, T1)
    assert "14 (+16 warm-up)" in out
    assert "2 synced, 0 unsynced" in out
    assert "disconnect 2, gap 2, resync 3" in out
    assert "coinbase:heartbeats 6" in out
    assert "binance:BTCUSDT: 1 of 1 compared agree (100.00%), 0 disagree" in out
    assert "5 files under" in out


def test_paced_replay_stores_the_same_outputs(cli: Cli, golden_root: Path, tmp_path: Path) -> None:
    fast = tmp_path / "fast"
    shutil.copytree(golden_root, fast)
    _replay(cli, fast)
    _replay(cli, golden_root, T0, T1, "--speed", "2000")
    assert _derived(golden_root) == _derived(fast)


def test_quote_vwap_is_a_list_of_structs_duckdb_can_unnest(cli: Cli, golden_root: Path) -> None:
    _replay(cli, golden_root)
    rows = (
        connect(golden_root)
        .execute(
            "SELECT v.side, v.size, v.price, v.insufficient FROM quotes, UNNEST(vwap) AS u(v) "
            "WHERE exchange = 'binance' ORDER BY recv_ns, v.size, v.side LIMIT 4"
        )
        .fetchall()
    )
    assert rows == [
        ("buy", 1.0, 42001.0, False),
        ("sell", 1.0, 42000.0, False),
        ("buy", 10.0, 42006.21739130435, True),
        ("sell", 10.0, 41994.06976744186, True),
    ]


def test_pacer_sleeps_so_record_time_runs_speed_times_faster() -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(round(seconds, 9))
        now[0] += seconds

    pacer = Pacer(10.0, clock=lambda: now[0], sleep=sleep)
    for recv_ns in (0, 1_000_000_000, 1_500_000_000, 1_500_000_000, 4_000_000_000):
        pacer.wait(recv_ns)
    assert slept == [0.1, 0.05, 0.25]


def test_pacer_does_not_sleep_when_behind() -> None:
    now = [0.0]
    slept: list[float] = []
    pacer = Pacer(1.0, clock=lambda: now[0], sleep=slept.append)
    pacer.wait(0)
    now[0] = 5.0
    pacer.wait(2_000_000_000)
    assert slept == []


def test_scope_file_stem_depends_on_window_and_filters_only() -> None:
    a = Scope(1, 2, ("coinbase", "binance"), None)
    b = Scope(1, 2, ("binance", "coinbase"), None)
    assert a.stem == b.stem
    assert a.stem != Scope(1, 3, ("binance", "coinbase")).stem
    assert a.stem != Scope(1, 2, None, ("BTCUSDT",)).stem
    assert a.stem.startswith("w1-2-")


def test_max_speed_replay_draws_a_progress_bar_on_a_terminal(golden_root: Path) -> None:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=120)
    scope = Scope(parse_time(T0), parse_time(T1))
    with ReplayProgress(console, scope.start_ns, scope.end_ns) as shown:
        summary = run_replay(golden_root, scope, load_config(), progress=shown.update)
    assert summary.records == 30
    assert "replay" in screen.getvalue() and "records" in screen.getvalue()


@pytest.mark.parametrize("enabled", [True, False])
def test_a_replay_leaves_the_garbage_collector_as_it_found_it(
    golden_root: Path, enabled: bool
) -> None:
    """The collector is paused while a replay feeds the lane, then back as it was."""
    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        run_replay(golden_root, Scope(0, 2**62), load_config())
        assert gc.isenabled() is enabled
        with pytest.raises(ZeroDivisionError), collector_paused():
            assert not gc.isenabled()
            _ = 1 / 0
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()


def test_a_replay_makes_no_reference_cycles_that_grow_with_the_log(tmp_path: Path) -> None:
    """Why pausing the collector is safe: replaying ten times the records of the same two
    books leaves no more unreachable objects behind (what is left is the engine's own
    graph, one per replay, not anything per record)."""
    root = copy_log(require_real("real-binance-2024"), tmp_path / "log")
    holdings = log_inventory(root)
    first = min(h.first_ns for h in holdings)
    last = max(h.last_ns for h in holdings)

    def unreachable_after(stop: int) -> int:
        gc.collect()
        was = gc.isenabled()
        gc.disable()
        try:
            run_replay(root, Scope(first, stop), load_config(), dry_run=True)
            return gc.collect()
        finally:
            if was:
                gc.enable()

    tenth = first + (last - first) // 10
    unreachable_after(tenth)  # first uses: imports, caches
    assert unreachable_after(last) == unreachable_after(tenth)
