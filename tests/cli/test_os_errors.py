"""Operating-system errors are one line naming what failed and where, exit status 2.

Read-only and full data directories are real tmpfs mounts in a private mount namespace
(see conftest); nothing is mocked.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import DATA, Cli, Result, in_mount

pytestmark = pytest.mark.usefixtures("private_mounts")

WRITER_CHILD = Path(__file__).resolve().parents[1] / "log" / "writer_child.py"
WINDOW = ["--from", "2024-01-02T03:00:00Z", "--to", "2024-01-02T03:01:00Z"]


def _one_line(result: Result, *fragments: str) -> str:
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def _leftover_journal(root: Path) -> Path:
    """A run that crashed after its last flush: a complete journal, no Parquet yet."""
    subprocess.run(
        [sys.executable, str(WRITER_CHILD), str(root), "crashed", "5000", "0.05", "3600", "300",
         "--exit-after-flush"],
        check=True, capture_output=True, timeout=60, cwd=WRITER_CHILD.parents[2],
    )  # fmt: skip
    journal = root / "raw" / "_journal"
    assert any(p.suffix != ".lock" for p in journal.iterdir())
    return journal


def test_replay_into_a_read_only_data_directory_is_one_line(tmp_path: Path) -> None:
    mount = tmp_path / "ro"
    mount.mkdir()
    setup = f"cp -r {DATA / 'golden'} {mount}/d; mount -o remount,ro {mount}"
    result = in_mount(mount, setup, ["replay", "--data", f"{mount}/d", *WINDOW])
    _one_line(result, f"cannot write {mount}/d/derived", "Read-only file system")


def test_compact_of_a_read_only_data_directory_is_one_line(tmp_path: Path) -> None:
    mount = tmp_path / "ro"
    mount.mkdir()
    setup = f"cp -r {DATA / 'golden'} {mount}/d; mount -o remount,ro {mount}"
    result = in_mount(mount, setup, ["compact", "--data", f"{mount}/d"])
    _one_line(result, f"{mount}/d", "Read-only file system")


def test_record_restart_on_a_read_only_directory_keeps_the_journal(tmp_path: Path) -> None:
    source = tmp_path / "src"
    journal = _leftover_journal(source)
    before = {p.name: p.read_bytes() for p in journal.iterdir()}
    mount = tmp_path / "ro"
    mount.mkdir()
    setup = f"cp -r {source} {mount}/d; mount -o remount,ro {mount}"
    args = ["record", "--data", f"{mount}/d", "--simulator", "127.0.0.1:9", "--duration", "1"]
    after = f"cp -r {mount}/d/raw/_journal {tmp_path}/kept"
    result = in_mount(mount, setup, args, after)
    _one_line(result, f"{mount}/d/raw", "Read-only file system")
    assert {p.name: p.read_bytes() for p in (tmp_path / "kept").iterdir()} == before


def test_record_restart_on_a_full_disk_keeps_the_journal(tmp_path: Path) -> None:
    source = tmp_path / "src"
    journal = _leftover_journal(source)
    before = {p.name: p.read_bytes() for p in journal.iterdir()}
    mount = tmp_path / "full"
    mount.mkdir()
    setup = (
        f"cp -r {source} {mount}/d; (dd if=/dev/zero of={mount}/filler bs=4k 2>/dev/null || true)"
    )
    args = ["record", "--data", f"{mount}/d", "--simulator", "127.0.0.1:9", "--duration", "1"]
    after = f"rm {mount}/filler; cp -r {mount}/d/raw/_journal {tmp_path}/kept"
    result = in_mount(mount, setup, args, after)
    _one_line(result, "No space left on device", f"{mount}/d")
    kept = {p.name: p.read_bytes() for p in (tmp_path / "kept").iterdir()}
    assert {k: v for k, v in kept.items() if k in before} == before


def test_stats_file_in_a_missing_directory_is_refused_before_recording(
    cli: Cli, tmp_path: Path
) -> None:
    missing = tmp_path / "nope" / "stats.json"
    args = ["--simulator", "127.0.0.1:9", "--duration", "1", "--stats-file", missing]
    result = cli("record", "--data", tmp_path / "d", *args)
    _one_line(result, f"--stats-file {missing}: directory {missing.parent} does not exist")
    assert not (tmp_path / "d").exists()


def test_simulate_stats_file_in_a_missing_directory_is_one_line(cli: Cli, tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "stats.json"
    result = cli("simulate", "--duration", "0.1", "--stats-file", missing)
    _one_line(result, "does not exist")


def test_a_data_path_through_a_regular_file_is_one_line(cli: Cli, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    args = ["--simulator", "127.0.0.1:9", "--duration", "1"]
    _one_line(cli("record", "--data", blocker / "d", *args), f"{blocker}", "Not a directory")


def test_book_at_an_epoch_beyond_int64_is_refused(cli: Cli) -> None:
    result = cli("book", "-e", "binance", "-s", "BTCUSDT", "--at", "99999999999999999999999")
    _one_line(result, "--at", "outside the range of epoch ns (int64")


def test_replay_to_a_date_beyond_int64_is_refused(cli: Cli, tmp_path: Path) -> None:
    shutil.copytree(DATA / "golden", tmp_path / "g")
    result = cli("replay", "--data", tmp_path / "g", "--from", "2024-01-02", "--to", "2999-01-01")
    _one_line(result, "--to", "outside the range of epoch ns")
