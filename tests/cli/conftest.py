"""Fixtures of the command-line tests: copies of the golden log, an in-process runner and
a runner of ``xle`` in a private mount namespace (a read-only or a full data directory).

Root ignores file modes, so a read-only directory cannot be made with ``chmod``;
``unshare -m`` gives the test its own mount table, where a tmpfs can be mounted read-only
or small enough to fill, without touching the machine's mounts.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.clirunner import Cli, Result

DATA = Path(__file__).resolve().parents[1] / "data"
XLE = [sys.executable, "-m", "xle.cli"]


@pytest.fixture
def cli() -> Cli:
    return Cli()


@pytest.fixture
def golden_root(tmp_path: Path) -> Path:
    target = tmp_path / "golden"
    shutil.copytree(DATA / "golden", target)
    return target


@pytest.fixture
def replayed(cli: Cli, golden_root: Path) -> Path:
    args = ("--from", "2024-01-02T03:00:00Z", "--to", "2024-01-02T03:01:00Z")
    result = cli("replay", "--data", golden_root, *args)
    assert result.exit_code == 0, result.stderr
    return golden_root


def _can_unshare() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=4k tmpfs /mnt && umount /mnt"],
        capture_output=True,
    )
    return probe.returncode == 0


@pytest.fixture(scope="session")
def private_mounts() -> None:
    if not _can_unshare():
        pytest.skip("needs `unshare -m` and tmpfs mounts (a private mount namespace)")


def in_mount(mount_dir: Path, setup: str, xle_args: list[str], after: str = "") -> Result:
    """Run ``setup`` (shell, after a fresh tmpfs is mounted on ``mount_dir``), then
    ``xle xle_args``, then ``after``; the exit status is xle's."""
    xle = " ".join(shlex.quote(a) for a in [*XLE, *xle_args])
    script = (
        f"set -e; mount -t tmpfs -o size=8m tmpfs {shlex.quote(str(mount_dir))}; {setup};"
        f" set +e; {xle}; rc=$?; {after or ':'}; exit $rc"
    )
    done = subprocess.run(
        ["unshare", "-m", "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )
    return Result(done.returncode, done.stdout, done.stderr)
