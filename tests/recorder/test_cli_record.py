"""``xle record`` as a user runs it: a subprocess against the simulator on 127.0.0.1.

Covers the command line end to end (record -> ``xle book --json`` == ground truth), a
``kill -9`` in the middle of a recording followed by a restart that recovers the journal,
and Coinbase credentials that must never reach the log or the terminal.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.recorder.conftest import read_log
from tests.recorder.e2e import read_stats as _read_stats
from tests.recorder.e2e import truth_levels
from tests.recorder.e2e import wait_for as _wait_for
from xle.simulator import SimConfig, final_truth, start_in_thread

pytestmark = pytest.mark.e2e

XLE = [sys.executable, "-m", "xle.cli"]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COINBASE_")}
    env.update(extra)
    return env


def test_record_then_book_json_equals_the_simulators_truth(tmp_path):
    data, stats_file, truth = tmp_path / "data", tmp_path / "stats.json", tmp_path / "truth"
    with start_in_thread(SimConfig(seed=3, truth_dir=truth, levels=40)) as sim:
        proc = subprocess.Popen(
            [*XLE, "record", "--simulator", f"127.0.0.1:{sim.port}", "--duration", "4",
             "--data", str(data), "--stats-file", str(stats_file)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(),
        )  # fmt: skip

        def all_synced() -> bool:
            stats = _read_stats(stats_file)
            return bool(stats) and all(
                b["total"] == 2 and b["synced"] == 2 for b in stats["books"].values()
            )

        _wait_for(all_synced, 30, proc)
        sim.pause()  # freeze the market: the recorder ends with the final true books
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "records in run" in out
    at = str(max(r.recv_ns for r in read_log(data)))
    books = [("binance", "BTCUSDT"), ("binanceus", "ETHUSD"), ("coinbase", "BTC-USD")]
    for exchange, symbol in books:
        book = subprocess.run(
            [*XLE, "book", "--exchange", exchange, "--symbol", symbol, "--at", at,
             "--depth", "1000", "--json", "--data", str(data)],
            capture_output=True, text=True, env=_env(), check=True,
        )  # fmt: skip
        got = json.loads(book.stdout)
        want = final_truth(truth, exchange, symbol)
        assert got["status"] == "synced"
        assert [tuple(level) for level in got["bids"]] == truth_levels(want.bids)
        assert [tuple(level) for level in got["asks"]] == truth_levels(want.asks)


def test_kill_9_loses_at_most_the_last_second_and_restart_recovers_without_duplicates(tmp_path):
    data, stats_file = tmp_path / "data", tmp_path / "stats.json"
    config = SimConfig(seed=5, binance_rate=100.0, coinbase_rate=100.0, levels=40)
    with start_in_thread(config) as sim:
        target = f"127.0.0.1:{sim.port}"
        proc = subprocess.Popen(
            [*XLE, "record", "--simulator", target, "--data", str(data),
             "--stats-file", str(stats_file), "--no-engine"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(),
        )  # fmt: skip
        _wait_for(lambda: (_read_stats(stats_file) or {}).get("durable_seq", 0) > 1000, 30, proc)
        time.sleep(1.5)
        os.kill(proc.pid, signal.SIGKILL)
        killed_ns = time.time_ns()
        proc.communicate(timeout=30)
        last = _read_stats(stats_file)
        assert last is not None
        assert killed_ns - last["time_ns"] < 2.5e9  # the stats were at most ~1 s old
        first_run = last["run"]
        assert list((data / "raw" / "_journal").glob(f"{first_run}-*.arrow"))  # left behind
        restart = subprocess.run(
            [*XLE, "record", "--simulator", target, "--data", str(data), "--duration", "1",
             "--no-engine"],
            capture_output=True, text=True, env=_env(), timeout=60,
        )  # fmt: skip
    assert restart.returncode == 0, restart.stderr
    assert "recovered" in restart.stdout
    records = read_log(data)
    keys = [(r.run, r.seq) for r in records]
    assert len(keys) == len(set(keys))  # no duplicates
    first = sorted(r.seq for r in records if r.run == first_run)
    durable = last["durable_seq"]
    assert first[:durable] == list(range(1, durable + 1))  # everything durable is there
    assert first == list(range(1, len(first) + 1))  # and nothing is torn in between
    assert len({r.run for r in records}) == 2
    assert not list((data / "raw" / "_journal").glob("*.arrow"))


def test_coinbase_credentials_never_reach_the_log_or_the_output(tmp_path):
    data = tmp_path / "data"
    key = "organizations/org-sentinel/apiKeys/KEY-NAME-SENTINEL-7f3a"
    secret = (
        "-----BEGIN EC PRIVATE KEY-----\\nSECRET-SENTINEL-91c2e4\\n-----END EC PRIVATE KEY-----"
    )
    with start_in_thread(SimConfig(seed=9, levels=20)) as sim:
        result = subprocess.run(
            [*XLE, "record", "--exchange", "coinbase", "--simulator", f"127.0.0.1:{sim.port}",
             "--duration", "2", "--data", str(data)],
            capture_output=True, text=True, timeout=60,
            env=_env(COINBASE_API_KEY=key, COINBASE_API_SECRET=secret),
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    records = read_log(data)
    assert any(r.kind == "ws" for r in records)
    error = next(r for r in records if r.stream == "error")
    assert json.loads(error.payload)["what"] == "credentials"
    for needle in ("SECRET-SENTINEL-91c2e4", "KEY-NAME-SENTINEL-7f3a"):
        assert needle not in result.stdout and needle not in result.stderr
        for rec in records:
            assert needle.encode() not in rec.payload
            assert needle not in rec.stream and needle not in (rec.symbol or "")
        for path in data.rglob("*"):
            if path.is_file():
                assert needle.encode() not in path.read_bytes(), path


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_ctrl_c_stop_gracefully_with_everything_in_parquet(tmp_path, sig):
    data, stats_file = tmp_path / "data", tmp_path / "stats.json"
    with start_in_thread(SimConfig(seed=4, levels=20)) as sim:
        proc = subprocess.Popen(
            [*XLE, "record", "--simulator", f"127.0.0.1:{sim.port}", "--data", str(data),
             "--stats-file", str(stats_file)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(),
        )  # fmt: skip
        _wait_for(lambda: (_read_stats(stats_file) or {}).get("records", 0) > 100, 30, proc)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "records in run" in out
    final = _read_stats(stats_file)
    records = read_log(data)
    assert len(records) == final["records"] == final["durable_seq"]
    for venue, counters in final["venues"].items():
        assert (
            len([r for r in records if r.kind == "ws" and r.exchange == venue])
            == counters["frames"]
        )
    assert {r.stream for r in records if r.kind == "event"} >= {"connected", "closed"}
    assert not list((data / "raw" / "_journal").iterdir())
