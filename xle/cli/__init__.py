"""The ``xle`` command line: a thin Typer shell over the library.

One module per command group (``xle.cli.replay``, ``query``, ``compact``, ``simulate``,
``record``, ``dashboard``, ``demo``, ``backtest``); this file imports them and wires
their commands into one app, in the order ``xle --help`` lists them. The library
raises and never prints; these modules print. Every command is wrapped in
``one_line_errors``: a bad argument, a missing or read-only directory or a full disk is
one ``error:`` line and exit status 2, never a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args

import typer
from typer.core import TyperCommand, TyperGroup

from xle.cli import (
    backtest,
    compact,
    dashboard,
    demo,
    export,
    query,
    record,
    replay,
    simulate,
)
from xle.cli.options import one_line_errors

__all__ = ["app", "main"]


class _Group(TyperGroup):
    """The ``xle`` group: its ``--help`` flag shows no ``<bool>`` either."""

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)
        if option is not None:
            option.metavar = ""
        return option


app = typer.Typer(
    name="xle",
    cls=_Group,
    help="Cross-exchange liquidity engine: record, replay, measure and watch L2 markets.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

#: What ``--help`` shows for a value whose option names no metavar, by Python type.
_METAVARS = {int: "INTEGER", float: "NUMBER", str: "TEXT", Path: "PATH"}


class _Command(TyperCommand):
    """A command whose ``--help`` reads like a manual: a flag shows no value placeholder
    (Typer's default prints ``<bool>``), an option without a metavar shows a plain one
    (``NUMBER``, not ``<float>``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.help:  # a docstring's wrapped lines are one paragraph, not short lines
            paragraphs = self.help.split("\n\n")
            self.help = "\n\n".join(" ".join(p.split()) for p in paragraphs)
        for param in self.params:
            _tidy(param)

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)
        if option is not None:
            _tidy(option)
        return option


def _tidy(param: Any) -> None:
    """Typer's click is vendored, so parameters are recognised by what they have."""
    kind = getattr(param, "param_type_name", "")
    if kind == "argument":  # the usage line already names it: no type after the name
        param.display_type_rich = lambda ctx: None
        return
    if kind != "option" or param.metavar is not None:
        return
    if param.is_flag:
        param.metavar = ""
        return
    desc = getattr(param, "type_descriptor", None)
    if desc is None:
        return
    if desc.is_choice and desc.choices:
        param.metavar = "|".join(str(getattr(c, "value", c)) for c in desc.choices)
        return
    annotation = desc.annotation
    if desc.is_list and get_args(annotation):
        annotation = get_args(annotation)[0]
    param.metavar = _METAVARS.get(annotation, "TEXT") if isinstance(annotation, type) else "TEXT"


#: Every command, in the order ``xle --help`` lists them.
_COMMANDS = (
    replay.replay,
    replay.book,
    query.query,
    query.arb,
    replay.audit,
    compact.compact,
    simulate.simulate,
    record.record,
    dashboard.dashboard,
    demo.demo,
    backtest.backtest,
    export.export,
)

for _command in _COMMANDS:
    app.command(cls=_Command)(one_line_errors(_command))


def main() -> None:
    app()
