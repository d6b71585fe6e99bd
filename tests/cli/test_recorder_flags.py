"""``--ws-url/--rest-url VENUE=URL`` and the recorder limits on ``xle record``, ``xle
dashboard --live`` and ``xle demo``: checked, and carried into the ``RecorderConfig``.

The commands run for real up to the point where they hand the config over; a subclass of
the recorder (or the dashboard's session factory) keeps the config and stops the command
there with a usage error, so no feed connects anywhere.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import Cli, Result
from xle.cli import dashboard as dashboard_cli
from xle.cli import demo as demo_cli
from xle.cli import record as record_cli
from xle.cli.options import format_size, parse_size
from xle.errors import UsageError
from xle.recorder.feedbase import FeedOptions
from xle.recorder.live import Recorder, RecorderConfig

MiB = 1 << 20
STOP = "config captured"

LIMITS = (
    "--max-frame", "binance=2MiB",
    "--max-frame", "coinbase=3MiB",
    "--rest-max-bytes", "512KiB",
    "--rest-deadline", "7.5",
    "--retry-after-max", "45",
    "--resync-timeout", "3",
    "--unflushed-bytes", "4MiB",
)  # fmt: skip


def _fails(result: Result, *fragments: str) -> str:
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr
    return result.stderr


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> list[RecorderConfig]:
    """Configs the commands built; each command stops right after building one."""
    configs: list[RecorderConfig] = []

    class Capturing(Recorder):
        def __init__(self, config: RecorderConfig, *args: object, **kwargs: object) -> None:
            configs.append(config)
            raise UsageError(STOP)

    def session(engine_config: object, recorder_config: RecorderConfig) -> None:
        configs.append(recorder_config)
        raise UsageError(STOP)

    monkeypatch.setattr(record_cli, "Recorder", Capturing)
    monkeypatch.setattr(dashboard_cli, "live_session", session)
    monkeypatch.setattr(demo_cli, "live_session", session)
    return configs


def _record(cli: Cli, tmp_path: Path, *args: str) -> Result:
    return cli("record", "--data", tmp_path, "--no-engine", *args)


def _assert_limits(cfg: RecorderConfig) -> None:
    assert cfg.options.binance_max_frame == 2 * MiB
    assert cfg.options.coinbase_max_frame == 3 * MiB
    assert cfg.options.rest_max_bytes == 512 * 1024
    assert cfg.options.rest_deadline == 7.5
    assert cfg.options.retry_after_max == 45.0
    assert cfg.resync_timeout == 3.0
    assert cfg.unflushed_bytes == 4 * MiB


# --------------------------------------------------------------------------- URLs


def test_record_ws_and_rest_urls_reach_the_recorder_config(
    cli: Cli, tmp_path: Path, captured: list[RecorderConfig]
) -> None:
    args = (
        "--ws-url", "binance=ws://127.0.0.1:9001",
        "--ws-url", "coinbase=wss://127.0.0.1:9002/ws",
        "--rest-url", "binanceus=http://127.0.0.1:9003",
    )  # fmt: skip
    _fails(_record(cli, tmp_path, *args), STOP)
    (cfg,) = captured
    assert cfg.ws_urls == {"binance": "ws://127.0.0.1:9001", "coinbase": "wss://127.0.0.1:9002/ws"}
    assert cfg.rest_urls == {"binanceus": "http://127.0.0.1:9003"}


def test_record_old_per_venue_url_flags_are_gone(cli: Cli, tmp_path: Path) -> None:
    result = _record(cli, tmp_path, "--binance-ws", "ws://127.0.0.1:9001")
    assert result.exit_code == 2
    assert "No such option" in result.stderr


def test_record_ws_url_of_an_unknown_venue_is_refused(cli: Cli, tmp_path: Path) -> None:
    result = _record(cli, tmp_path, "--ws-url", "kraken=ws://127.0.0.1:9001")
    _fails(result, "unknown exchange 'kraken'", "known: binance, binanceus, coinbase")


def test_record_ws_url_without_a_venue_is_refused(cli: Cli, tmp_path: Path) -> None:
    _fails(_record(cli, tmp_path, "--ws-url", "ws://127.0.0.1:9001"), "use VENUE=URL")


def test_record_ws_url_with_an_http_scheme_is_refused(cli: Cli, tmp_path: Path) -> None:
    result = _record(cli, tmp_path, "--ws-url", "binance=http://127.0.0.1:9001")
    _fails(result, "expected a ws or wss URL with a host")


def test_record_rest_url_of_coinbase_is_refused(cli: Cli, tmp_path: Path) -> None:
    result = _record(cli, tmp_path, "--rest-url", "coinbase=https://127.0.0.1:9001")
    _fails(result, "coinbase has no such endpoint", "binance, binanceus")


def test_record_same_venue_url_twice_is_refused(cli: Cli, tmp_path: Path) -> None:
    args = ("--ws-url", "binance=ws://127.0.0.1:1", "--ws-url", "binance=ws://127.0.0.1:2")
    _fails(_record(cli, tmp_path, *args), "binance given twice")


# --------------------------------------------------------------------------- limits


def test_record_limit_flags_reach_the_recorder_config(
    cli: Cli, tmp_path: Path, captured: list[RecorderConfig]
) -> None:
    _fails(_record(cli, tmp_path, *LIMITS), STOP)
    _assert_limits(captured[0])


def test_record_without_limit_flags_keeps_the_library_defaults(
    cli: Cli, tmp_path: Path, captured: list[RecorderConfig]
) -> None:
    _fails(_record(cli, tmp_path), STOP)
    (cfg,) = captured
    defaults = RecorderConfig(data_root=tmp_path)
    assert cfg.options == FeedOptions()
    assert (cfg.resync_timeout, cfg.unflushed_bytes) == (
        defaults.resync_timeout,
        defaults.unflushed_bytes,
    )


def test_record_binanceus_frame_cap_sets_the_binance_family_cap(
    cli: Cli, tmp_path: Path, captured: list[RecorderConfig]
) -> None:
    _fails(_record(cli, tmp_path, "--max-frame", "binanceus=1MiB"), STOP)
    assert captured[0].options.binance_max_frame == MiB


def test_record_different_caps_for_binance_and_binanceus_are_refused(
    cli: Cli, tmp_path: Path
) -> None:
    args = ("--max-frame", "binance=1MiB", "--max-frame", "binanceus=2MiB")
    _fails(_record(cli, tmp_path, *args), "binance and binanceus share one cap")


@pytest.mark.parametrize("flag", ["--rest-deadline", "--retry-after-max", "--resync-timeout"])
@pytest.mark.parametrize("value", ["nan", "inf", "0", "-1"])
def test_record_seconds_limit_must_be_positive_and_finite(
    cli: Cli, tmp_path: Path, flag: str, value: str
) -> None:
    _fails(_record(cli, tmp_path, flag, value), f"{flag} must be positive and finite")


@pytest.mark.parametrize("flag", ["--rest-max-bytes", "--unflushed-bytes"])
@pytest.mark.parametrize("value", ["0", "0MiB", "16 parsecs", "-5MiB", "inf", "1.5B"])
def test_record_size_limit_must_be_a_positive_size(
    cli: Cli, tmp_path: Path, flag: str, value: str
) -> None:
    _fails(_record(cli, tmp_path, flag, value), flag)


def test_record_max_frame_of_an_unknown_venue_is_refused(cli: Cli, tmp_path: Path) -> None:
    _fails(_record(cli, tmp_path, "--max-frame", "kraken=1MiB"), "unknown exchange 'kraken'")


def test_record_help_shows_the_library_defaults(cli: Cli) -> None:
    text = " ".join(cli("record", "--help").stdout.replace("│", " ").split())
    options = FeedOptions()
    assert f"binance {format_size(options.binance_max_frame)}" in text
    assert f"coinbase {format_size(options.coinbase_max_frame)}" in text
    assert "Default: 30 s." in text and "Default: 120 s." in text and "Default: 10 s." in text
    assert text.count("Default: 16MiB.") == 2  # REST body, unflushed bytes


def test_dashboard_live_limit_flags_reach_the_recorder_config(
    cli: Cli, tmp_path: Path, captured: list[RecorderConfig]
) -> None:
    args = ("--live", "--simulator", "127.0.0.1:9", "--port", "0", "--data", tmp_path)
    _fails(cli("dashboard", *args, *LIMITS), STOP)
    _assert_limits(captured[0])


def test_dashboard_replay_refuses_recorder_limits(cli: Cli, tmp_path: Path) -> None:
    args = ("--replay", "--from", "2024-01-02T03:00:00Z", "--to", "2024-01-02T03:01:00Z")
    result = cli("dashboard", *args, "--data", tmp_path, "--resync-timeout", "3")
    _fails(result, "--resync-timeout: recorder limits belong to --live")


def test_demo_limit_flags_reach_the_recorder_config(
    cli: Cli, tmp_path: Path, captured: list[RecorderConfig]
) -> None:
    _fails(cli("demo", "--port", "0", "--data", tmp_path, *LIMITS), STOP)
    _assert_limits(captured[0])


# --------------------------------------------------------------------------- sizes


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("16MiB", 16 * MiB),
        ("1.5KiB", 1536),
        ("5 MB", 5_000_000),
        ("1048576", MiB),
        ("2gib", 2 << 30),
    ],
)
def test_sizes_read_binary_and_decimal_units(text: str, size: int) -> None:
    assert parse_size(text, "--x") == size


def test_sizes_print_in_the_largest_binary_unit_that_divides_them() -> None:
    assert [format_size(n) for n in (16 * MiB, 64 * MiB, 1536, 1000, 2 << 30)] == [
        "16MiB",
        "64MiB",
        "1536B",
        "1000B",
        "2GiB",
    ]
