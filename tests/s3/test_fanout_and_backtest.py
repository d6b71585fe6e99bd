"""A fanned-out replay and a backtest with their data root on S3."""

from __future__ import annotations

from pathlib import Path

from tests.backtest.helpers import EXAMPLES, GOLDEN_RANGE, golden_copy
from tests.clirunner import Cli
from tests.fanout.conftest import FIRST_MIDNIGHT, write_log, zero_fee_config
from tests.fanout.helpers import derived_rows, episodes_across
from tests.s3.conftest import keys, upload
from xle.replay.fanout import fanout_replay
from xle.replay.session import run_replay
from xle.store.derived import Scope
from xle.store.fs import as_root

xle = Cli()
TAKER = f"{EXAMPLES / 'taker_arbitrage.py'}:TakerArbitrage"
HOUR = 3_600_000_000_000


def test_replay_with_two_workers_from_s3_equals_serial_on_disk(tmp_path: Path, s3_root: str):
    """Each worker reopens the root from its URI; the shards meet at a UTC midnight that
    an arbitrage episode spans."""
    local = tmp_path / "log"
    start, end = FIRST_MIDNIGHT - 2 * HOUR, FIRST_MIDNIGHT + 2 * HOUR
    write_log(local, start_ns=start, end_ns=end, step_ns=10_000_000_000)
    upload(local, s3_root)
    scope, config = Scope(start, end), zero_fee_config()

    summary = fanout_replay(as_root(s3_root), scope, config, workers=2)
    run_replay(local, scope, config)

    fanned = derived_rows(as_root(s3_root))
    assert fanned == derived_rows(local)
    assert summary.quotes == len(fanned["quotes"]) > 0
    assert episodes_across(fanned["arbitrage"], FIRST_MIDNIGHT)
    assert not [k for k in keys(s3_root) if k.rpartition("/")[2].startswith(".")]


def test_a_backtest_on_s3_writes_its_run_there_and_the_views_read_it(tmp_path, s3_root):
    local = golden_copy(tmp_path)
    upload(local, s3_root)
    start, end = GOLDEN_RANGE
    on_disk = xle("backtest", TAKER, "--from", start, "--to", end, "--data", local)
    on_s3 = xle("backtest", TAKER, "--from", start, "--to", end, "--data", s3_root)
    assert on_s3.exit_code == on_disk.exit_code == 0, on_s3.stderr
    digest = [line for line in on_s3.stdout.splitlines() if "digest" in line]
    assert digest and digest == [ln for ln in on_disk.stdout.splitlines() if "digest" in ln]
    (run,) = {k.split("/")[2] for k in keys(s3_root) if k.startswith("derived/backtests/")}
    written = sorted(k.rpartition("/")[2] for k in keys(s3_root) if f"/{run}/" in k)
    assert written == [
        "equity.parquet",
        "fills.parquet",
        "mids.parquet",
        "orders.parquet",
        "positions.parquet",
        "report.html",
        "summary.json",
        "summary.parquet",
    ]
    query = "SELECT run, count(*) AS fills FROM fills GROUP BY run"
    rows = xle("query", query, "--format", "json", "--data", s3_root).json()
    assert rows == [{"run": run.removeprefix("run="), "fills": 6}]
