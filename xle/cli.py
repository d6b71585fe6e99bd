"""The ``xle`` command line: a thin Typer shell over the packages.

Each area owns its commands in a ``commands`` module exporting ``COMMANDS``; this file
only wires them into one app, so that adding a command never means editing a shared
file beyond the list below. Every command is wrapped in ``one_line_errors``: a bad
argument, a missing or read-only directory or a full disk is one ``error:`` line and
exit status 2, never a traceback.
"""

from __future__ import annotations

import importlib

import typer

from xle.cli_options import one_line_errors

__all__ = ["app", "main"]

app = typer.Typer(
    name="xle",
    help="Cross-exchange liquidity engine: record, replay, measure and watch L2 markets.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_COMMAND_MODULES: tuple[str, ...] = (
    "xle.replay.commands",
    "xle.simulator.commands",
    "xle.recorder.commands",
    "xle.dashboard.commands",
)

for _name in _COMMAND_MODULES:
    for _command in importlib.import_module(_name).COMMANDS:
        app.command()(one_line_errors(_command))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
