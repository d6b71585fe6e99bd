"""The log store: a recorded log opened as one object (``xle.open(root) -> Log``)."""

from xle.store.log import BookSnapshot, Log, Replay, VwapWalk, open

__all__ = ["BookSnapshot", "Log", "Replay", "VwapWalk", "open"]
