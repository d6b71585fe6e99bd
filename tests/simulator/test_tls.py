"""The optional TLS listener: clients that insist on wss:// and https:// connect."""

from __future__ import annotations

import builtins
import json
import ssl
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner
from websockets.asyncio.client import connect

from tests.simulator.conftest import MakeSim
from tests.simulator.helpers import recv_json
from xle.cli import app
from xle.errors import ConfigError
from xle.simulator import SimConfig, Simulator
from xle.simulator.tls import make_certificate


def _trusting(cert: Path | None) -> ssl.SSLContext:
    assert cert is not None and cert.is_file()
    return ssl.create_default_context(cafile=str(cert))


async def test_wss_client_trusting_the_certificate_gets_depth(make_sim: MakeSim) -> None:
    sim = await make_sim(tls=True, binance_rate=100.0)
    url = sim.tls_urls["binance"].ws + "/ws/btcusdt@depth@100ms"
    assert url.startswith("wss://127.0.0.1:")
    async with connect(url, ssl=_trusting(sim.tls_cert), open_timeout=5) as ws:
        frame = await recv_json(ws)
    assert frame["e"] == "depthUpdate"


async def test_https_rest_works_on_the_tls_port(make_sim: MakeSim) -> None:
    sim = await make_sim(tls=True)
    context = _trusting(sim.tls_cert)
    async with httpx.AsyncClient(verify=context) as http:
        info = await http.get(sim.tls_urls["binanceus"].rest + "/api/v3/exchangeInfo")
        products = await http.get(
            sim.tls_urls["coinbase"].rest + "/api/v3/brokerage/market/products"
        )
    assert [s["symbol"] for s in info.json()["symbols"]] == ["BTCUSD", "ETHUSD"]
    assert products.json()["num_products"] == 2


async def test_coinbase_over_wss(make_sim: MakeSim) -> None:
    sim = await make_sim(tls=True)
    async with connect(sim.tls_urls["coinbase"].ws, ssl=_trusting(sim.tls_cert)) as ws:
        await ws.send(json.dumps({"type": "subscribe", "channel": "heartbeats"}))
        ack = await recv_json(ws)
    assert ack["channel"] == "subscriptions"


async def test_an_untrusted_client_is_refused(make_sim: MakeSim) -> None:
    sim = await make_sim(tls=True)
    with pytest.raises(ssl.SSLCertVerificationError):
        async with connect(sim.tls_urls["binance"].ws + "/ws/btcusdt@trade", open_timeout=5):
            pass


async def test_without_tls_there_is_no_second_listener(make_sim: MakeSim) -> None:
    sim = await make_sim()
    assert (sim.tls_port, sim.tls_cert, sim.tls_urls) == (0, None, {})


async def test_the_certificate_directory_goes_when_the_simulator_stops() -> None:
    sim = Simulator(SimConfig(tls=True))
    await sim.start()
    cert = sim.tls_cert
    assert cert is not None and cert.is_file()
    await sim.stop()
    assert not cert.parent.exists()


async def test_a_chosen_certificate_directory_is_kept(tmp_path: Path) -> None:
    sim = Simulator(SimConfig(tls=True, tls_dir=tmp_path))
    await sim.start()
    await sim.stop()
    assert sim.tls_cert == tmp_path / "simulator-cert.pem" and sim.tls_cert.is_file()


def test_missing_cryptography_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    real_import = builtins.__import__

    def without_cryptography(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("cryptography"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_cryptography)
    with pytest.raises(ConfigError, match=r"pip install 'xle\[tls\]'"):
        make_certificate(tmp_path)


def test_simulate_tls_prints_the_certificate_and_the_secure_urls() -> None:
    result = CliRunner().invoke(app, ["simulate", "--duration", "0.3", "--tls"])
    assert result.exit_code == 0, result.output
    assert "wss://127.0.0.1:" in result.output and "https://127.0.0.1:" in result.output
    assert "simulator-cert.pem" in result.output
