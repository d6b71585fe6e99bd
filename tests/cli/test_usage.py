"""Bad values are refused with one line; empty answers say what the data holds."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.cli.conftest import Cli, Result

WINDOW = ("--from", "2024-01-02T03:00:00Z", "--to", "2024-01-02T03:01:00Z")


def _fails(result: Result, *fragments: str) -> str:
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr
    return result.stderr


# --------------------------------------------------------------------------- bad values


def test_simulate_port_out_of_range_is_refused(cli: Cli) -> None:
    _fails(cli("simulate", "--duration", "0.1", "--port", "99999"), "'--port'", "65535")


def test_record_simulator_port_out_of_range_is_refused(cli: Cli, tmp_path: Path) -> None:
    result = cli("record", "--data", tmp_path, "--simulator", "127.0.0.1:99999")
    _fails(result, "--simulator '127.0.0.1:99999': port must be 1..65535")


def test_record_simulator_without_a_port_is_refused(cli: Cli, tmp_path: Path) -> None:
    _fails(cli("record", "--data", tmp_path, "--simulator", "localhost"), "use HOST:PORT")


def test_record_url_with_a_port_out_of_range_is_refused(cli: Cli, tmp_path: Path) -> None:
    result = cli("record", "--data", tmp_path, "--ws-url", "binance=ws://127.0.0.1:70000")
    _fails(result, "--ws-url", "port must be 1..65535")


def test_simulate_fault_nan_is_refused(cli: Cli) -> None:
    _fails(cli("simulate", "--duration", "0.1", "--fault", "drop:nan"), "'drop:nan'", "finite")


def test_simulate_fault_inf_is_refused(cli: Cli) -> None:
    _fails(cli("simulate", "--duration", "0.1", "--fault", "latency_ms:inf"), "finite")


def test_book_vwap_inf_is_refused(cli: Cli, golden_root: Path) -> None:
    args = ("-e", "binance", "-s", "BTCUSDT", "--at", "2024-01-02T03:00:05Z", "--vwap", "inf")
    _fails(cli("book", "--data", golden_root, *args), "--vwap must be positive and finite")


def test_replay_speed_inf_is_refused(cli: Cli, golden_root: Path) -> None:
    _fails(cli("replay", "--data", golden_root, *WINDOW, "--speed", "inf"), "--speed")


# --------------------------------------------------------------------------- query


def test_query_of_an_empty_string_is_one_line(cli: Cli, replayed: Path) -> None:
    _fails(cli("query", "--data", replayed, ""), "empty query")


def test_query_of_whitespace_or_only_a_comment_is_one_line(cli: Cli, replayed: Path) -> None:
    for sql in ("   \n ", " -- just a comment", "/* nothing */ ;"):
        _fails(cli("query", "--data", replayed, sql), "empty query")


def test_query_table_stops_at_the_default_limit_and_says_how_many_were_left_out(
    cli: Cli, replayed: Path
) -> None:
    sql = "SELECT range AS n FROM range(250)"
    result = cli("query", "--data", replayed, sql)
    assert result.exit_code == 0, result.stderr
    assert "100 rows shown, 150 more left out" in result.stdout
    assert " 99 " in result.stdout and " 100 " not in result.stdout


def test_query_limit_option_sets_the_limit_for_every_format(cli: Cli, replayed: Path) -> None:
    sql = "SELECT range AS n FROM range(250)"
    result = cli("query", "--data", replayed, "-f", "json", "--limit", "10", sql)
    assert [row["n"] for row in json.loads(result.stdout)] == list(range(10))
    assert "240 more left out" in result.stderr
    everything = cli("query", "--data", replayed, "--limit", "0", sql)
    assert "250 rows" in everything.stdout and "left out" not in everything.stdout


def test_query_json_and_csv_print_everything_by_default(cli: Cli, replayed: Path) -> None:
    sql = "SELECT range AS n FROM range(250)"
    assert len(json.loads(cli("query", "--data", replayed, "-f", "json", sql).stdout)) == 250
    assert len(cli("query", "--data", replayed, "-f", "csv", sql).stdout.splitlines()) == 251


# --------------------------------------------------------------------------- no silent empties


def test_replay_of_a_symbol_the_log_lacks_is_refused_listing_what_it_holds(
    cli: Cli, golden_root: Path
) -> None:
    result = cli("replay", "--data", golden_root, *WINDOW, "-s", "DOGEUSDT")
    _fails(result, "no book for DOGEUSDT", "binance: BTCUSDT; coinbase: BTC-USD")
    _fails(result, "data from 2024-01-02T03:00:00.100000000Z to 2024-01-02T03:00:11")
    assert not (golden_root / "derived").exists()


def test_replay_warns_about_the_one_missing_symbol_and_replays_the_rest(
    cli: Cli, golden_root: Path
) -> None:
    result = cli("replay", "--data", golden_root, *WINDOW, "-s", "DOGEUSDT", "-s", "BTCUSDT")
    assert result.exit_code == 0
    assert "warning: no book for DOGEUSDT in the log" in result.stderr
    assert "1 synced" in result.stdout


def test_book_of_an_unknown_symbol_lists_the_symbols_and_the_window(
    cli: Cli, golden_root: Path
) -> None:
    args = ("-e", "coinbase", "-s", "BTCUSD", "--at", "2024-01-02T03:00:30Z")
    _fails(cli("book", "--data", golden_root, *args), "coinbase: BTC-USD; data from 2024-01-02")


def test_book_after_the_end_of_the_data_says_where_it_ends(cli: Cli, golden_root: Path) -> None:
    args = ("-e", "binance", "-s", "BTCUSDT", "--at", "2030-01-01", "--json")
    result = cli("book", "--data", golden_root, *args)
    assert result.exit_code == 0
    assert json.loads(result.stdout)["status"] == "synced"
    assert "the binance data ends at 2024-01-02T03:00:11.000000000Z" in result.stderr


def test_book_inside_the_data_gives_no_warning(cli: Cli, golden_root: Path) -> None:
    args = ("-e", "binance", "-s", "BTCUSDT", "--at", "2024-01-02T03:00:05Z", "--json")
    assert cli("book", "--data", golden_root, *args).stderr == ""


# --------------------------------------------------------------------------- progress


def test_replay_at_a_set_speed_prints_progress_lines_with_an_eta(
    cli: Cli, golden_root: Path
) -> None:
    args = ("--speed", "5", "--progress-every", "0.3")
    result = cli("replay", "--data", golden_root, *WINDOW, *args)
    assert result.exit_code == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("replay ")]
    assert len(lines) >= 2, result.stderr
    assert re.fullmatch(
        r"replay +\d+\.\d%  at 2024-01-02T03:00:\d\dZ  [\d,]+ records  elapsed \d:\d\d:\d\d"
        r"  ETA \d:\d\d:\d\d",
        lines[0],
    ), lines[0]


def test_replay_flat_out_off_a_terminal_prints_no_escape_codes(cli: Cli, golden_root: Path) -> None:
    result = cli("replay", "--data", golden_root, *WINDOW, "--progress-every", "0")
    assert result.exit_code == 0 and "\x1b[" not in result.stderr + result.stdout
