"""The recorder's small parts: clock, frame labels, symbol choice, endpoints, backoff, JWT."""

from __future__ import annotations

import base64
import itertools
import json
import random
import time

import pytest

from tests.recorder.conftest import FAST, read_log, run_until
from tests.recorder.tiny_server import Script, TinyServer
from xle.cli.record import resolve_symbols
from xle.errors import UsageError
from xle.exchanges.binance import snapshot_weight
from xle.recorder.binance_feed import stream_of
from xle.recorder.clock import RecvClock
from xle.recorder.coinbase_feed import CoinbaseCredentials, channel_of
from xle.recorder.feedbase import Backoff, FeedOptions, is_loopback, retry_after_seconds
from xle.recorder.live import DEFAULT_SYMBOLS, Recorder, RecorderConfig, venue_endpoints


def test_recv_clock_is_anchored_to_utc_and_never_goes_back():
    clock = RecvClock()
    stamps = [clock() for _ in range(10_000)]
    assert all(a <= b for a, b in itertools.pairwise(stamps))
    assert abs(stamps[0] - time.time_ns()) < 5e9


def test_recv_clock_keeps_monotonic_spacing_from_its_anchor():
    clock = RecvClock(wall_ns=1_000_000_000_000, mono_ns=500)
    assert clock.at(500) == 1_000_000_000_000
    assert clock.at(1_500) == 1_000_000_001_000


def test_binance_stream_name_is_read_from_the_combined_wrapper_prefix():
    frame = b'{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate"}}'
    assert stream_of(frame) == "btcusdt@depth@100ms"
    assert stream_of(b'{"result":null,"id":1}') == ""
    assert stream_of(b"\x00garbage") == ""


def test_coinbase_channel_is_read_from_the_frame_prefix():
    assert channel_of(b'{"channel":"l2_data","client_id":""}') == "l2_data"
    assert channel_of(b'{"type":"error","message":"x"}') == ""


@pytest.mark.parametrize(("limit", "weight"), [(100, 5), (500, 25), (1000, 50), (5000, 250)])
def test_snapshot_weight_follows_binance_table(limit, weight):
    assert snapshot_weight(limit) == weight


def test_resolve_symbols_defaults_to_every_exchange_and_its_default_symbols():
    assert resolve_symbols(None, None) == DEFAULT_SYMBOLS


def test_resolve_symbols_plain_symbol_applies_to_each_given_exchange():
    got = resolve_symbols(["binance", "binanceus"], ["solusdt"])
    assert got == {"binance": ["SOLUSDT"], "binanceus": ["SOLUSDT"]}


def test_resolve_symbols_exchange_prefixed_symbols_select_their_exchange():
    got = resolve_symbols(None, ["coinbase:sol-usd", "binance:SOLUSDT", "coinbase:BTC-USD"])
    assert got == {"binance": ["SOLUSDT"], "coinbase": ["SOL-USD", "BTC-USD"]}


def test_resolve_symbols_gives_defaults_to_an_exchange_without_symbols():
    got = resolve_symbols(["binance", "coinbase"], ["binance:SOLUSDT"])
    assert got == {"binance": ["SOLUSDT"], "coinbase": DEFAULT_SYMBOLS["coinbase"]}


@pytest.mark.parametrize(
    ("exchanges", "symbols"),
    [(["kraken"], None), (None, ["kraken:XBTUSD"]), (["binance"], ["coinbase:BTC-USD"])],
)
def test_resolve_symbols_rejects_unknown_or_unselected_exchanges(exchanges, symbols):
    with pytest.raises(UsageError):
        resolve_symbols(exchanges, symbols)


def test_simulator_address_points_every_venue_at_its_url_prefix(tmp_path):
    cfg = RecorderConfig(data_root=tmp_path, simulator="127.0.0.1:8765")
    assert venue_endpoints(cfg, "binance") == (
        "ws://127.0.0.1:8765/binance",
        "http://127.0.0.1:8765/binance",
    )
    assert venue_endpoints(cfg, "binanceus")[0] == "ws://127.0.0.1:8765/binanceus"
    assert venue_endpoints(cfg, "coinbase") == ("ws://127.0.0.1:8765/coinbase", None)


def test_real_endpoints_by_default_and_per_venue_overrides_win(tmp_path):
    cfg = RecorderConfig(
        data_root=tmp_path,
        simulator="127.0.0.1:1",
        ws_urls={"binance": "wss://data-stream.binance.vision"},
    )
    assert venue_endpoints(cfg, "binance")[0] == "wss://data-stream.binance.vision"
    plain = RecorderConfig(data_root=tmp_path)
    assert venue_endpoints(plain, "binanceus") == (
        "wss://stream.binance.us:9443",
        "https://api.binance.us",
    )
    assert venue_endpoints(plain, "coinbase")[0] == "wss://advanced-trade-ws.coinbase.com"


def test_loopback_detection_keeps_proxies_away_from_local_servers():
    assert is_loopback("ws://127.0.0.1:9/x") and is_loopback("http://localhost:1")
    assert not is_loopback("wss://stream.binance.com:9443")


def test_backoff_doubles_with_jitter_up_to_the_cap_and_resets():
    backoff = Backoff(1.0, 8.0, random.Random(4))
    delays = [backoff.next_delay() for _ in range(6)]
    caps = [1, 2, 4, 8, 8, 8]
    assert all(cap / 2 <= d <= cap for d, cap in zip(delays, caps, strict=True))
    backoff.reset()
    assert backoff.next_delay() <= 1.0


def test_recorder_rejects_unknown_exchanges_and_empty_selections(tmp_path):
    with pytest.raises(UsageError):
        Recorder(RecorderConfig(data_root=tmp_path, symbols={"kraken": ["XBTUSD"]}))
    with pytest.raises(UsageError):
        Recorder(RecorderConfig(data_root=tmp_path, symbols={"binance": []}))


def test_recorder_run_ids_are_unique_and_sortable(tmp_path):
    first = Recorder(RecorderConfig(data_root=tmp_path)).run_id
    time.sleep(1.1)
    second = Recorder(RecorderConfig(data_root=tmp_path)).run_id
    assert first != second and first < second


# ----------------------------------------------------------------------------- credentials


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _ec_key_pem() -> tuple[object, str]:
    ec = pytest.importorskip("cryptography.hazmat.primitives.asymmetric.ec")
    serialization = pytest.importorskip("cryptography.hazmat.primitives.serialization")
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    return key, pem


def test_credentials_sign_an_es256_jwt_that_verifies_with_the_public_key():
    key, pem = _ec_key_pem()
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    creds = CoinbaseCredentials("organizations/o/apiKeys/k", pem)
    header, claims, signature = creds.jwt().split(".")
    assert json.loads(_b64decode(header))["kid"] == "organizations/o/apiKeys/k"
    body = json.loads(_b64decode(claims))
    assert body["sub"] == "organizations/o/apiKeys/k" and body["exp"] - body["nbf"] == 120
    raw = _b64decode(signature)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    key.public_key().verify(der, f"{header}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))
    assert "PRIVATE" not in repr(creds) and pem not in str(creds)


def test_signed_subscriptions_carry_a_jwt_but_the_log_never_holds_key_or_token(
    data_root, monkeypatch
):
    _, pem = _ec_key_pem()
    monkeypatch.setenv("COINBASE_API_KEY", "organizations/o/apiKeys/KEY-SENTINEL")
    monkeypatch.setenv("COINBASE_API_SECRET", pem.replace("\n", "\\n"))
    with TinyServer(Script()) as server:
        cfg = RecorderConfig(
            data_root=data_root,
            symbols={"coinbase": ["BTC-USD"]},
            simulator=f"127.0.0.1:{server.port}",
            options=FAST,
        )
        recorder = Recorder(cfg)
        run_until(recorder, lambda: len(server.received) >= 3)
    sent = [json.loads(text) for _, text in server.received]
    tokens = [m["jwt"] for m in sent]
    assert all(t.count(".") == 2 for t in tokens)
    secret_line = pem.splitlines()[1]
    for rec in read_log(data_root):
        blob = rec.payload + rec.stream.encode()
        assert b"KEY-SENTINEL" not in blob and secret_line.encode() not in blob
        assert not any(t.encode() in blob for t in tokens)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("2", 2.0),
        ("0.25", 0.25),
        (" 7 ", 7.0),
        ("1e12", 120.0),
        ("inf", 120.0),
        ("Infinity", 120.0),
        ("-5", 0.0),
        ("-inf", 0.0),
        ("Thu, 01 Jan 1970 00:01:40 GMT", 40.0),  # 100 s after the epoch, "now" is 60
        ("Thu, 01 Jan 1970 00:00:10 GMT", 0.0),  # already past
        ("Fri, 01 Jan 9999 00:00:00 GMT", 120.0),
    ],
)
def test_retry_after_is_read_as_seconds_or_a_date_and_clamped(header, seconds):
    assert retry_after_seconds(header, 120.0, now=60.0) == seconds


@pytest.mark.parametrize("header", [None, "", "nan", "soon", "Fri, 99 Foo 2024", "1,5"])
def test_retry_after_that_is_not_a_number_or_a_date_means_the_default_pause(header):
    assert retry_after_seconds(header, 120.0) is None


def test_frame_queue_is_bounded_in_bytes_as_well_as_in_frames():
    opts = FeedOptions(max_queue=4096, queue_bytes=128 << 20)
    assert opts.queue_frames(64 << 20) == 2  # Coinbase: two snapshots' worth
    assert opts.queue_frames(16 << 20) == 8
    assert opts.queue_frames(1 << 10) == 4096
    assert opts.queue_frames(1 << 30) == 1
