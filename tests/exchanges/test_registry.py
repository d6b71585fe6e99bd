"""The venue registry: lookups, registration rules, and what reads it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from xle.config import load_config
from xle.errors import UsageError
from xle.exchanges import (
    binance,
    coinbase,
    make_decoder,
    register,
    snapshot_symbols,
    unregister,
    venue,
)
from xle.exchanges.registry import EXCHANGES
from xle.recorder.live import DEFAULT_SYMBOLS, Recorder, RecorderConfig, venue_endpoints
from xle.records import RawRecord


def test_unknown_venue_error_lists_the_known_ones():
    with pytest.raises(UsageError, match=r"unknown exchange 'kraken' \(known: binance, "):
        venue("kraken")


def test_unknown_venue_is_a_value_error_for_the_engine():
    with pytest.raises(ValueError, match="kraken"):
        make_decoder("kraken")


def test_built_in_venues_are_registered_in_order():
    assert list(EXCHANGES)[:3] == ["binance", "binanceus", "coinbase"]
    assert venue("binance") is binance.BINANCE
    assert venue("coinbase") is coinbase.COINBASE


def test_registering_the_same_spec_twice_is_a_no_op(fakevenue):
    assert register(fakevenue.SPEC) is fakevenue.SPEC
    assert venue("fakevenue") is fakevenue.SPEC


def test_another_spec_under_a_taken_name_is_refused():
    clash = dataclasses.replace(coinbase.COINBASE, default_symbols=("SOL-USD",))
    with pytest.raises(ValueError, match="'coinbase' is already registered"):
        register(clash)
    assert venue("coinbase") is coinbase.COINBASE


def test_a_venue_name_must_fit_a_partition_key(fakevenue):
    with pytest.raises(ValueError, match="venue name"):
        dataclasses.replace(fakevenue.SPEC, name="fake/venue")


def test_a_feed_must_be_named_by_module_and_attribute(fakevenue):
    with pytest.raises(ValueError, match=r"package\.module:attribute"):
        dataclasses.replace(fakevenue.SPEC, name="other", feed=fakevenue.__name__)


def test_default_symbols_come_from_the_specs(fakevenue):
    assert DEFAULT_SYMBOLS["binanceus"] == ["BTCUSD", "ETHUSD"]
    assert DEFAULT_SYMBOLS["fakevenue"] == []
    assert set(DEFAULT_SYMBOLS) == set(EXCHANGES)


def test_a_venue_without_default_symbols_is_not_recorded_by_default(fakevenue, tmp_path: Path):
    recorder = Recorder(RecorderConfig(data_root=tmp_path))
    assert recorder.venues == ["binance", "binanceus", "coinbase"]


def test_venue_endpoints_of_a_registered_venue(fakevenue):
    cfg = RecorderConfig(data_root=Path("."), ws_urls={"fakevenue": "ws://127.0.0.1:9/x"})
    assert venue_endpoints(cfg, "fakevenue") == ("ws://127.0.0.1:9/x", None)
    plain = RecorderConfig(data_root=Path("."))
    assert venue_endpoints(plain, "fakevenue") == ("wss://fakevenue.invalid/ws", None)
    sim = RecorderConfig(data_root=Path("."), simulator="127.0.0.1:8765")
    assert venue_endpoints(sim, "fakevenue") == ("ws://127.0.0.1:8765/fakevenue", None)


def test_urls_for_an_unknown_venue_are_refused(tmp_path: Path):
    cfg = RecorderConfig(data_root=tmp_path, ws_urls={"kraken": "ws://127.0.0.1:9"})
    with pytest.raises(UsageError, match="unknown exchange"):
        Recorder(cfg)


def test_a_feed_path_that_does_not_load_is_a_usage_error(fakevenue, tmp_path: Path):
    from xle.recorder.live import feed_factory

    broken = dataclasses.replace(fakevenue.SPEC, feed=f"{fakevenue.__name__}:no_such_feed")
    with pytest.raises(UsageError, match="cannot load its feed"):
        feed_factory(broken)


def test_symbol_rules_are_the_venues_own(fakevenue):
    config = load_config()
    assert config.assets_of("binance", "ETHFDUSD") == ("ETH", "FDUSD")
    assert config.assets_of("coinbase", "ETH-USD") == ("ETH", "USD")
    assert config.assets_of("fakevenue", "FAKE-USD") == ("FAKE", "USD")
    assert config.assets_of("kraken", "XBTUSD") is None


def test_snapshot_symbols_of_an_unregistered_venue_is_empty():
    rec = RawRecord(1, "kraken", "r", 1, 1, "rest", "/api/v3/depth?symbol=X", "X", b"{}")
    assert snapshot_symbols(rec) == ()


def test_a_rest_url_for_a_venue_without_rest_is_refused(tmp_path: Path):
    cfg = RecorderConfig(data_root=tmp_path, rest_urls={"coinbase": "http://127.0.0.1:9"})
    with pytest.raises(UsageError, match=r"coinbase, which uses no REST \(venues with REST: bi"):
        Recorder(cfg)


def test_unregister_removes_a_venue_everywhere(fakevenue):
    other = register(dataclasses.replace(fakevenue.SPEC, name="othervenue"))
    assert "othervenue" in EXCHANGES and "othervenue" in DEFAULT_SYMBOLS
    assert unregister("othervenue") is other
    assert "othervenue" not in EXCHANGES and "othervenue" not in DEFAULT_SYMBOLS
    with pytest.raises(UsageError, match="unknown exchange 'othervenue'"):
        venue("othervenue")
