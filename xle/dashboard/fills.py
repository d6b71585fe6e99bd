"""A backtest's fills over the replay: ``xle dashboard --replay … --backtest RUN``.

The fills of one written backtest run (``derived/backtests/run=<RUN>/fills.parquet``)
are read once and drawn as buy/sell markers on the mid chart of their book, each at the
time the strategy heard of it (its receive time, the replay's clock), and only once the
replay has reached that time, so scrubbing and playing show what the strategy had done
by then.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from pathlib import Path

from xle.errors import DataError
from xle.store.backtests import backtests_dir, run_dir

__all__ = ["FillMark", "Fills", "load_fills"]


@dataclass(frozen=True, slots=True)
class FillMark:
    t_ns: int  # when the strategy heard of the fill
    exchange: str
    symbol: str
    side: str  # buy | sell
    price: float
    qty: str  # exact decimal string


class Fills:
    """The fills of one run, by time, with the run id they came from."""

    def __init__(self, run: str, marks: list[FillMark]) -> None:
        self.run = run
        self.marks = sorted(marks, key=lambda m: m.t_ns)
        self._times = [m.t_ns for m in self.marks]

    def __len__(self) -> int:
        return len(self.marks)

    def between(self, after_ns: int | None, upto_ns: int) -> list[FillMark]:
        """Fills with ``after_ns < t_ns <= upto_ns`` (``after_ns`` None: from the start)."""
        lo = 0 if after_ns is None else bisect_right(self._times, after_ns)
        return self.marks[lo : bisect_right(self._times, upto_ns)]


def _runs(root: Path) -> list[str]:
    folder = backtests_dir(root)
    if not folder.is_dir():
        return []
    return sorted(p.name.partition("=")[2] for p in folder.glob("run=*") if p.is_dir())


def load_fills(root: Path, run: str) -> Fills:
    """The fills of backtest ``run`` under the data root ``root``."""
    import pyarrow.parquet as pq

    path = run_dir(root, run) / "fills.parquet"
    if not path.is_file():
        runs = _runs(root)
        listed = ", ".join(runs) if runs else "none: `xle backtest` writes them"
        raise DataError(f"no backtest run {run!r} under {backtests_dir(root)} (runs: {listed})")
    from xle.store.fs import arrow_source

    where, filesystem = arrow_source(path)  # a local file or an object (xle.store.fs)
    try:
        columns = ["t_ns", "exchange", "symbol", "side", "price", "qty"]
        table = pq.read_table(where, columns=columns, filesystem=filesystem)
    except Exception as exc:  # a damaged or foreign file: say which, never a traceback
        raise DataError(f"cannot read {path}: {exc}") from None
    marks = [
        FillMark(r["t_ns"], r["exchange"], r["symbol"], r["side"], float(r["price"]),
                 _plain(r["qty"]))
        for r in table.to_pylist()
    ]  # fmt: skip
    return Fills(run, marks)


def _plain(value: object) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
