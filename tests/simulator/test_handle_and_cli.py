"""The synchronous handle, the ``xle simulate`` command and the package's public names."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner
from websockets.sync.client import connect

import xle.simulator
from xle.cli import app
from xle.simulator import SimConfig, start_in_thread


def test_handle_serves_from_a_background_thread() -> None:
    with start_in_thread(SimConfig(seed=1, binance_rate=50.0)) as handle:
        with connect(handle.urls["binance"].ws + "/ws/btcusdt@depth@100ms") as ws:
            frame = json.loads(ws.recv(timeout=5))
        handle.pause()
        true = handle.book("binance", "BTCUSDT")
        reply = httpx.get(handle.urls["binance"].rest + "/api/v3/depth?symbol=BTCUSDT&limit=3")
    assert frame["e"] == "depthUpdate"
    assert reply.json()["lastUpdateId"] == true.update_id
    assert reply.json()["bids"] == [list(level) for level in true.bids[:3]]


def test_stopped_handle_frees_its_port() -> None:
    handle = start_in_thread(SimConfig())
    port = handle.port
    handle.stop()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass


def test_simulate_command_prints_the_urls_it_serves() -> None:
    result = CliRunner().invoke(app, ["simulate", "--duration", "0.3", "--seed", "2"])
    assert result.exit_code == 0, result.output
    for path in ("/binance/ws/<stream>", "/binanceus/stream?streams=", "/coinbase"):
        assert path in result.output
    assert "http://127.0.0.1:" in result.output and "BTC-USD" in result.output


def test_simulate_command_writes_truth_and_takes_faults(tmp_path: Path) -> None:
    args = ["simulate", "--duration", "0.3", "--truth", str(tmp_path), "--fault", "drop:0.1"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert xle.simulator.final_truth(tmp_path, "binance", "BTCUSDT").bids


@pytest.mark.parametrize(
    "args", [["--fault", "explode:1"], ["--market", "BTCUSD"], ["--levels", "1"]]
)
def test_simulate_command_rejects_bad_options(args: list[str]) -> None:
    result = CliRunner().invoke(app, ["simulate", "--duration", "0.1", *args])
    assert result.exit_code != 0


def test_public_names_are_pinned() -> None:
    assert set(xle.simulator.__all__) == {
        "DEFAULT_MARKETS",
        "HOST",
        "VENUES",
        "BookSnapshot",
        "FaultConfig",
        "MarketModel",
        "SimConfig",
        "SimHandle",
        "Simulator",
        "Step",
        "TradePrint",
        "TruthBook",
        "VenueUrls",
        "final_truth",
        "start_in_thread",
        "truth_book_at",
        "truth_path",
    }


def test_simulate_command_reports_a_busy_port() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(app, ["simulate", "--duration", "0.1", "--port", str(port)])
    assert result.exit_code == 2
    assert "error: cannot serve on 127.0.0.1:" in result.output
