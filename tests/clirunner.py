"""``xle …`` run in-process through Typer's runner, for tests of the command line.

One runner for every test folder: stdout and stderr are kept apart (one-line errors go to
stderr), and exceptions are not caught, so a traceback fails the test that caused it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from typer.testing import CliRunner


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> object:
        return json.loads(self.stdout)


class Cli:
    """Runs ``xle …`` in-process with Typer's runner; stdout and stderr kept apart."""

    def __init__(self) -> None:
        self._runner = CliRunner()

    def __call__(self, *args: str | Path | int) -> Result:
        from xle.cli import app

        result = self._runner.invoke(app, [str(a) for a in args], catch_exceptions=False)
        return Result(result.exit_code, result.stdout, result.stderr)
