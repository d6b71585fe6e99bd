"""The fake third venue, registered only while the tests that use it run: registered for
the whole session, it would be one more venue in every other test's defaults."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from types import ModuleType

import pytest

from xle.exchanges import unregister

MODULE = "tests.exchanges.fakevenue"


@pytest.fixture(scope="module")
def fakevenue() -> Iterator[ModuleType]:
    """The venue module, imported (so registered) afresh; unregistered afterwards."""
    module = importlib.import_module(MODULE)
    try:
        yield module
    finally:
        unregister(module.NAME)
        sys.modules.pop(MODULE, None)
