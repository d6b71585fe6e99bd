"""The arbitrage history table's rows: episodes stored by ``xle replay`` (DuckDB over
``DIR/derived/arbitrage``) merged with the episodes the dashboard's own engine reported.

The derived store holds an episode twice (the row written when it opened and the row
written when it closed); the table shows the latest row of each, keyed by market, pair
and start. Episodes the session saw win over stored ones with the same key, because they
are newer (an episode still open in the store may have closed on screen).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from xle.dashboard.panels import episode_rows
from xle.records import ArbitrageEpisode

__all__ = ["EpisodeHistory"]

_QUERY = """
SELECT market, buy_venue, sell_venue, status, start_ns, end_ns, duration_ns, edge_bps,
       peak_edge_bps, executable_size, profit, close_reason
FROM (
    SELECT *, row_number() OVER (
        PARTITION BY market, buy_venue, sell_venue, start_ns
        ORDER BY recv_ns DESC, seq DESC) AS newest
    FROM arbitrage
    WHERE start_ns BETWEEN ? AND ?
)
WHERE newest = 1
ORDER BY start_ns DESC
LIMIT ?
"""


class EpisodeHistory:
    """Stored episodes for a time window, re-read at most every ``refresh_s`` seconds."""

    def __init__(
        self,
        data_root: Path | None,
        start_ns: int | None = None,
        end_ns: int | None = None,
        *,
        limit: int = 2000,
        refresh_s: float = 5.0,
    ) -> None:
        self.data_root = data_root
        self.start_ns = start_ns if start_ns is not None else 0
        self.end_ns = end_ns if end_ns is not None else 2**63 - 1
        self.limit = limit
        self.refresh_s = refresh_s
        self.error: str | None = None
        self._rows: list[dict[str, Any]] = []
        self._loaded_at: float | None = None
        self._lock = threading.Lock()

    def stored(self) -> list[dict[str, Any]]:
        """Rows from DuckDB (cached); an unreadable store leaves ``error`` set and no rows."""
        if self.data_root is None:
            return []
        with self._lock:
            now = time.monotonic()
            if self._loaded_at is None or now - self._loaded_at >= self.refresh_s:
                self._loaded_at = now
                self._rows = self._query()
            return self._rows

    def _query(self) -> list[dict[str, Any]]:
        from xle.store.views import connect

        assert self.data_root is not None
        if not (self.data_root / "derived" / "arbitrage").is_dir():
            self.error = None
            return []
        try:
            con = connect(self.data_root)
            try:
                cursor = con.execute(_QUERY, [self.start_ns, self.end_ns, self.limit])
                names = [d[0] for d in cursor.description]
                rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
            finally:
                con.close()
        except Exception as exc:  # a broken store must not take the page down
            self.error = f"arbitrage history unavailable: {exc}"
            return []
        self.error = None
        return rows

    def rows(self, session_episodes: list[ArbitrageEpisode]) -> list[dict[str, Any]]:
        """Table rows, newest first: the session's episodes plus stored ones not among them."""
        live = episode_rows(session_episodes, "engine")
        seen = {row["key"] for row in live}
        stored = [row for row in episode_rows(self.stored(), "log") if row["key"] not in seen]
        return sorted(live + stored, key=lambda r: -r["start_ns"])
