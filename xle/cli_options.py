"""Command-line options every area shares (DESIGN section 9: a contract scripts rely on).

One definition per option, so ``--data`` and ``--config`` mean and read the same in
``xle replay``, ``xle record`` and ``xle dashboard``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["ConfigOption", "DataOption", "ExchangeOption"]

DataOption = Annotated[
    Path | None,
    typer.Option("--data", help="Data root (default: $XLE_DATA, else ./data).", show_default=False),
]
ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="Engine config TOML overriding the defaults.")
]
ExchangeOption = Annotated[
    list[str] | None,
    typer.Option("--exchange", "-e", help="binance, binanceus or coinbase (repeatable)."),
]
