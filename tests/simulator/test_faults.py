"""Fault configuration and per-frame decisions, without sockets."""

from __future__ import annotations

import json

import pytest

from xle.simulator.faults import (
    Action,
    ConnectionFaults,
    FaultConfig,
    SnapshotFaults,
    corrupt_frame,
)

FRAME = (
    b'{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":5,"u":7,'
    b'"b":[["60000.01000000","0.50000000"]],"a":[]}'
)


def test_fault_specs_parse_into_the_config() -> None:
    config = FaultConfig.parse(["drop:0.01", "disconnect_after:500", "snapshot-delay:2.5"])
    assert config == FaultConfig(drop=0.01, disconnect_after=500, snapshot_delay=2.5)


@pytest.mark.parametrize("spec", ["drop", "explode:0.1", "drop:lots", "drop:1.5", "latency:-1"])
def test_bad_fault_specs_are_rejected_with_a_reason(spec: str) -> None:
    with pytest.raises(ValueError, match="bad fault"):
        FaultConfig.parse([spec])


def test_no_faults_means_every_frame_is_sent() -> None:
    faults = ConnectionFaults(FaultConfig(), seed=1, venue="binance", conn_no=1)
    assert {faults.decide() for _ in range(1000)} == {Action.SEND}


def test_decisions_are_the_same_for_the_same_seed_and_connection() -> None:
    config = FaultConfig(drop=0.1, malformed=0.1, latency=0.1, disconnect=0.01)
    first = ConnectionFaults(config, seed=9, venue="coinbase", conn_no=2)
    again = ConnectionFaults(config, seed=9, venue="coinbase", conn_no=2)
    other = ConnectionFaults(config, seed=9, venue="coinbase", conn_no=3)
    a = [first.decide() for _ in range(500)]
    assert a == [again.decide() for _ in range(500)]
    assert a != [other.decide() for _ in range(500)]


def test_drop_rate_is_roughly_the_configured_probability() -> None:
    faults = ConnectionFaults(FaultConfig(drop=0.2), seed=1, venue="binance", conn_no=1)
    drops = sum(faults.decide() is Action.DROP for _ in range(5000))
    assert 800 < drops < 1200


def test_disconnect_after_cuts_at_that_frame() -> None:
    faults = ConnectionFaults(FaultConfig(disconnect_after=3), seed=1, venue="binance", conn_no=1)
    assert [faults.decide() for _ in range(3)] == [Action.SEND, Action.SEND, Action.SEND_THEN_CUT]


def test_corrupt_frame_makes_invalid_json() -> None:
    with pytest.raises(json.JSONDecodeError):
        json.loads(corrupt_frame(FRAME, non_numeric=False))


def test_corrupt_frame_makes_the_first_price_non_numeric() -> None:
    data = json.loads(corrupt_frame(FRAME, non_numeric=True))
    assert data["b"][0] == ["not-a-number", "0.50000000"]


def test_snapshot_failures_answer_500_or_429() -> None:
    faults = SnapshotFaults(FaultConfig(snapshot_fail=1.0), seed=1, venue="binance")
    assert {faults.failure() for _ in range(50)} == {500, 429}
    calm = SnapshotFaults(FaultConfig(), seed=1, venue="binance")
    assert {calm.failure() for _ in range(50)} == {None}
