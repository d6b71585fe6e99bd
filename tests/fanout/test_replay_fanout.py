"""A replay fanned out over shards stores exactly the rows of a serial replay."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import xle
from tests.fanout.conftest import FIRST_MIDNIGHT, LOG_END, LOG_START, SECOND_MIDNIGHT
from tests.fanout.helpers import derived_rows, episodes_across
from xle.cli import app
from xle.errors import UsageError
from xle.records import ArbitrageEpisode
from xle.replay.fanout import DAY_NS, Shard, ShardOutcome, fanout_replay, parse_shard, plan_shards
from xle.replay.session import run_replay
from xle.store.derived import Scope

SCOPE = Scope(LOG_START, LOG_END)
HOUR = 3_600_000_000_000


def test_plan_shards_cuts_at_utc_midnights() -> None:
    shards = plan_shards(LOG_START, LOG_END)
    assert [(s.start_ns, s.end_ns) for s in shards] == [
        (LOG_START, FIRST_MIDNIGHT - 1),
        (FIRST_MIDNIGHT, SECOND_MIDNIGHT - 1),
        (SECOND_MIDNIGHT, LOG_END),
    ]


def test_plan_shards_with_a_shorter_length() -> None:
    shards = plan_shards(FIRST_MIDNIGHT, FIRST_MIDNIGHT + DAY_NS - 1, parse_shard("6h"))
    assert len(shards) == 4
    assert all(s.end_ns - s.start_ns == DAY_NS // 4 - 1 for s in shards)


def test_parse_shard_refuses_what_is_not_a_duration() -> None:
    with pytest.raises(UsageError, match="1d, 6h"):
        parse_shard("tomorrow")


def test_fanout_replay_equals_serial_with_episodes_across_midnight(
    multiday: Path, second_copy: Path, config
) -> None:
    run_replay(multiday, SCOPE, config)
    summary = fanout_replay(second_copy, SCOPE, config, workers=2)
    serial, fanned = derived_rows(multiday), derived_rows(second_copy)
    assert episodes_across(serial["arbitrage"], FIRST_MIDNIGHT)
    assert episodes_across(serial["arbitrage"], SECOND_MIDNIGHT)
    assert fanned == serial
    assert summary.quotes == len(serial["quotes"])
    assert summary.episodes_closed == sum(1 for r in serial["arbitrage"] if r[5] == "closed")


def test_fanout_with_six_hour_shards_equals_serial(
    multiday: Path, second_copy: Path, config
) -> None:
    """Seams at 06:00, 12:00 (an episode straddles noon) and 18:00 as well."""
    run_replay(multiday, SCOPE, config)
    fanout_replay(second_copy, SCOPE, config, workers=1, shard="6h")
    assert derived_rows(second_copy) == derived_rows(multiday)


def test_fanout_rerun_replaces_its_rows(multiday: Path, second_copy: Path, config) -> None:
    run_replay(multiday, SCOPE, config)
    fanout_replay(second_copy, SCOPE, config, workers=1)
    fanout_replay(second_copy, SCOPE, config, workers=1, shard="12h")
    assert derived_rows(second_copy) == derived_rows(multiday)


def test_serial_replay_over_a_fanout_replaces_its_rows(multiday: Path, config) -> None:
    fanout_replay(multiday, SCOPE, config, workers=1)
    first = derived_rows(multiday)
    run_replay(multiday, SCOPE, config)
    assert derived_rows(multiday) == first


def test_fanout_of_a_window_inside_the_log_equals_serial(
    multiday: Path, second_copy: Path, config
) -> None:
    """Both ends inside the log: the first shard warms up like the serial replay, the
    last one stops at the window's end."""
    scope = Scope(FIRST_MIDNIGHT - 3 * 60 * 10**9, SECOND_MIDNIGHT + 2 * 60 * 10**9)
    run_replay(multiday, scope, config)
    fanout_replay(second_copy, scope, config, workers=1)
    assert derived_rows(second_copy) == derived_rows(multiday)


def _damage_an_hour(root: Path, hour_ns: int) -> Path:
    """Overwrite the Binance file of the hour holding ``hour_ns`` with bytes that are not
    Parquet; the same file in every copy of the log."""
    from datetime import UTC, datetime

    at = datetime.fromtimestamp(hour_ns // 10**9, tz=UTC)
    folder = root / "raw" / "exchange=binance" / f"date={at:%Y-%m-%d}" / f"hour={at:%H}"
    (path,) = sorted(folder.glob("*.parquet"))
    path.write_bytes(b"not parquet at all")
    return path


def test_fanout_with_an_unreadable_file_equals_serial(
    multiday: Path, second_copy: Path, config
) -> None:
    """A file the reader cannot open inside the second shard: both replays go on, name it
    once and store the same rows, its ``corrupt_file`` event included."""
    for root in (multiday, second_copy):
        _damage_an_hour(root, FIRST_MIDNIGHT + 5 * HOUR)
    serial = run_replay(multiday, SCOPE, config)
    fanned = fanout_replay(second_copy, SCOPE, config, workers=2)
    rows = derived_rows(multiday)
    assert [r for r in rows["integrity"] if "corrupt_file" in r]
    assert derived_rows(second_copy) == rows
    assert len(fanned.corrupt_files) == len(serial.corrupt_files) == 1


def test_shard_not_a_multiple_of_the_quote_interval_is_refused(multiday: Path, config) -> None:
    with pytest.raises(UsageError, match="multiple of the quote interval"):
        fanout_replay(multiday, SCOPE, config, workers=1, shard=7 * 10**8)


def _episode(start: int, recv: int, status: str, peak: float) -> ArbitrageEpisode:
    closed = status == "closed"
    return ArbitrageEpisode(
        recv_ns=recv,
        seq=recv,
        market="BTC/USD",
        buy_venue="binance:BTCUSDT",
        sell_venue="coinbase:BTC-USD",
        status=status,
        start_ns=start,
        end_ns=recv if closed else None,
        duration_ns=recv - start if closed else None,
        edge_bps=peak,
        peak_edge_bps=peak,
        executable_size=1.0,
        profit=peak,
        close_reason="edge" if closed else None,
    )


def test_stitch_drops_an_episode_the_next_shard_reopened() -> None:
    """The next shard's warm-up did not see the episode open, so it opened it inside
    its window; the owner's overrun close is the serial row."""
    from xle.replay.fanout import stitch_episodes

    first = ShardOutcome(Shard(0, 0, 99))
    first.episodes = [_episode(50, 50, "open", 1.0)]
    first.overrun = [_episode(50, 130, "closed", 3.0)]
    second = ShardOutcome(Shard(1, 100, 199))
    second.episodes = [
        _episode(110, 110, "open", 2.0),
        _episode(110, 130, "closed", 2.0),
        _episode(150, 150, "open", 1.5),
    ]
    rows = stitch_episodes([first, second], Scope(0, 199))
    assert [(e.status, e.start_ns, e.recv_ns, e.peak_edge_bps) for e in rows] == [
        ("open", 50, 50, 1.0),
        ("closed", 50, 130, 3.0),
        ("open", 150, 150, 1.5),
    ]


def test_stitch_drops_episodes_inherited_from_the_warm_up() -> None:
    from xle.replay.fanout import stitch_episodes

    first = ShardOutcome(Shard(0, 0, 99))
    first.overrun = [_episode(40, 120, "closed", 3.0)]
    second = ShardOutcome(Shard(1, 100, 199))
    second.episodes = [_episode(95, 120, "closed", 2.0)]  # opened in its warm-up
    rows = stitch_episodes([first, second], Scope(0, 199))
    assert [(e.start_ns, e.peak_edge_bps) for e in rows] == [(40, 3.0)]


def test_log_write_derived_with_workers_equals_serial(
    multiday: Path, second_copy: Path, config
) -> None:
    xle.open(multiday, config=config).write_derived(LOG_START, LOG_END)
    xle.open(second_copy, config=config).write_derived(LOG_START, LOG_END, workers=2)
    assert derived_rows(second_copy) == derived_rows(multiday)


def test_replay_command_with_workers_prints_the_summary(second_copy: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["replay", "--data", str(second_copy), "--from", "2026-01-01T18:00:00Z",
         "--to", "2026-01-03T06:00:00Z", "--workers", "2"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "records    25,959" in result.output
    assert "quotes     25,959" in result.output


def test_replay_command_refuses_speed_with_workers(second_copy: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["replay", "--data", str(second_copy), "--from", "2026-01-01T18:00:00Z",
         "--to", "2026-01-03T06:00:00Z", "--workers", "2", "--speed", "10"],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "error: --speed paces a serial replay" in result.output


def test_fanout_that_cannot_publish_leaves_no_staged_file(multiday: Path, config) -> None:
    """An unreadable earlier file in the scope stops the publish: nothing is half
    published and no shard's temporary file is left behind."""
    from xle.errors import DataError

    run_replay(multiday, Scope(LOG_START, FIRST_MIDNIGHT + HOUR), config)
    victim = next((multiday / "derived" / "quotes").rglob("*.parquet"))
    victim.write_bytes(b"garbage")
    with pytest.raises(DataError, match="cannot read derived file"):
        fanout_replay(multiday, SCOPE, config, workers=1)
    leftovers = [p.name for p in (multiday / "derived").rglob("*") if p.name.startswith(".")]
    assert leftovers == []
    assert not any("w" + str(FIRST_MIDNIGHT) in p.name for p in multiday.rglob("*.parquet"))
