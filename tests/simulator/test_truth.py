"""Ground truth files: what the writer stores rebuilds the model's books exactly."""

from __future__ import annotations

from pathlib import Path

import pytest

from xle.simulator import MarketModel, SimConfig, final_truth, truth_book_at
from xle.simulator.coinbase_server import iso_time
from xle.simulator.truth import TruthWriter

SECOND = 1_000_000_000


def _write(directory: Path, seconds: int) -> MarketModel:
    model = MarketModel(SimConfig(seed=2))
    writer = TruthWriter(directory)
    for venue, symbol in model.instruments:
        writer.start(venue, symbol, model.snapshot(venue, symbol), 0)
    for step in model.advance(seconds * SECOND):
        event_time = iso_time(step.time_ns, 6) if step.venue == "coinbase" else None
        writer.write(step, step.time_ns, event_time)
    writer.close()
    return model


def test_final_truth_equals_the_model_books(tmp_path: Path) -> None:
    model = _write(tmp_path, 5)
    for venue, symbol in model.instruments:
        truth = final_truth(tmp_path, venue, symbol)
        snap = model.snapshot(venue, symbol)
        assert (truth.bids, truth.asks, truth.update_id) == (snap.bids, snap.asks, snap.update_id)


def test_truth_at_an_update_id_is_the_book_after_that_message(tmp_path: Path) -> None:
    model = MarketModel(SimConfig(seed=2))
    model.advance(2 * SECOND)
    middle = model.snapshot("binance", "BTCUSDT")
    _write(tmp_path, 5)
    truth = truth_book_at(tmp_path, "binance", "BTCUSDT", middle.update_id)
    assert (truth.bids, truth.asks) == (middle.bids, middle.asks)
    assert truth.update_id == middle.update_id


def test_coinbase_truth_is_found_by_event_time(tmp_path: Path) -> None:
    model = MarketModel(SimConfig(seed=2))
    model.advance(1 * SECOND)
    expected = model.snapshot("coinbase", "ETH-USD")
    _write(tmp_path, 3)
    # Step k of a 20/s book happens at k * 50 ms; after 1 s that is step 20.
    truth = truth_book_at(tmp_path, "coinbase", "ETH-USD", event_time=iso_time(SECOND, 6))
    assert truth.update_id == expected.update_id == 20
    assert (truth.bids, truth.asks) == (expected.bids, expected.asks)


def test_an_update_id_before_the_start_is_an_error(tmp_path: Path) -> None:
    _write(tmp_path, 1)
    with pytest.raises(ValueError, match="before the start"):
        truth_book_at(tmp_path, "binance", "BTCUSDT", 5)
