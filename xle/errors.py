"""Errors xle raises on purpose; each carries a one-line message fit for the terminal.

    XleError
     +-- ConfigError      a config file or value is unusable
     +-- UsageError       a command-line argument is unusable (bad time, empty range)
     +-- DataError        the data directory or a log file is missing or unreadable

Bad *records* are never exceptions: they become integrity events (see records.py).
"""

from __future__ import annotations

__all__ = ["ConfigError", "DataError", "UsageError", "XleError"]


class XleError(Exception):
    """Base of every error xle raises deliberately."""


class ConfigError(XleError):
    pass


class UsageError(XleError):
    pass


class DataError(XleError):
    pass
