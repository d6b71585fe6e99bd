"""The pure-Python fallback gives exactly the compiled core's outputs on real logs.

Each mode is chosen at import time (``XLE_PURE_PYTHON``), so the fallback runs in a
subprocess; both replay the real Binance / Binance.US capture (``../shared/data/real``)
and the committed hand-made Binance + Coinbase log through the engine and print every output.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.realdata import require_real
from xle.analytics import book as book_module

pytestmark = pytest.mark.skipif(not book_module.COMPILED, reason="compiled book not built")

DATA = Path(__file__).resolve().parents[1] / "data"

_SCRIPT = """
import sys
from pathlib import Path

import msgspec
import pyarrow.parquet as pq

from xle.analytics import book
from xle.analytics.engine import Engine
from xle.config import load_config
from xle.records import RawRecord

assert book.COMPILED == (sys.argv[1] == "compiled")
records = []
for path in sorted(Path(sys.argv[2]).glob("raw/exchange=*/date=*/hour=*/*.parquet")):
    exchange = path.parts[-4].partition("=")[2]
    for row in pq.read_table(path).to_pylist():
        records.append(RawRecord(exchange=exchange, **row))
records.sort(key=lambda r: (r.recv_ns, r.exchange, r.run, r.seq))
engine = Engine(load_config(None))
out = []
for rec in records:
    out.extend(engine.on_record(rec))
out.extend(engine.finish())
for key in engine.book_keys():
    view = engine.book_view(*key)
    out.append(view)
    out.extend(engine.vwap(*key, side, 3.0) for side in ("buy", "sell"))
sys.stdout.buffer.write(msgspec.json.encode(out))
"""


def _outputs(mode: str, root: Path) -> bytes:
    env = dict(os.environ)
    env.pop("XLE_PURE_PYTHON", None)
    if mode == "pure":
        env["XLE_PURE_PYTHON"] = "1"
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, mode, str(root)],
        check=True,
        capture_output=True,
        env=env,
    )
    return done.stdout


@pytest.mark.parametrize("fixture", ["real", "golden"])
def test_pure_python_fallback_replays_to_identical_outputs(fixture):
    root = DATA / fixture if fixture == "golden" else require_real(fixture)
    compiled = _outputs("compiled", root)
    assert len(compiled) > 1000
    assert _outputs("pure", root) == compiled
