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
from xle._native import book as book_module

pytestmark = pytest.mark.skipif(not book_module.COMPILED, reason="compiled book not built")

DATA = Path(__file__).resolve().parents[1] / "data"

_SCRIPT = """
import sys
from pathlib import Path

import msgspec
import pyarrow.parquet as pq

from xle._native import book
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


@pytest.mark.parametrize("fixture", ["real", "golden", "real-coinbase-2026"])
def test_pure_python_fallback_replays_to_identical_outputs(fixture):
    root = DATA / fixture if fixture == "golden" else require_real(fixture)
    compiled = _outputs("compiled", root)
    assert len(compiled) > 1000
    assert _outputs("pure", root) == compiled


def _write_faulty_log(root: Path) -> None:
    """One of each frame the decoders must refuse or guard against, in two runs."""
    import json

    from xle.records import RawRecord
    from xle.store.writer import LogWriter

    def dump(body: object) -> bytes:
        return json.dumps(body, separators=(",", ":")).encode()

    def frame(U: int, u: int, bids: list[list[str]]) -> bytes:
        data = {"e": "depthUpdate", "E": 1, "s": "BTCUSDT", "U": U, "u": u, "b": bids, "a": []}
        return dump({"stream": "btcusdt@depth@100ms", "data": data})

    def l2(seq: int, kind: str, price: str) -> bytes:
        update = {"side": "bid", "event_time": "", "price_level": price, "new_quantity": "1"}
        event = {"type": kind, "product_id": "BTC-USD", "updates": [update]}
        return dump({"channel": "l2_data", "sequence_num": seq, "events": [event]})

    nested = b'{"channel":"l2_data","x":' + b"[" * 1000 + b"]" * 1000 + b',"sequence_num":3}'
    snap = "/api/v3/depth?symbol=BTCUSDT&limit=1000"
    t0 = 1_704_164_400_000_000_000
    for run, first in (("one", 1000), ("two", 10)):
        book = {"lastUpdateId": first, "bids": [["100.0", "1"]], "asks": [["101.0", "1"]]}
        rows = [
            ("binance", "rest", snap, dump(book)),
            ("binance", "ws", "btcusdt@depth@100ms", frame(first + 1, 2**63 - 1, [])),
            ("binance", "ws", "btcusdt@depth@100ms", frame(first + 1, first + 1, [["99", "2"]])),
            ("binance", "ws", "btcusdt@depth@100ms",
             frame(first + 2, first + 2, [["99.500000000000000000000000000001", "1"]])),
            ("coinbase", "ws", "l2_data", l2(1, "snapshot", "100.5")),
            ("coinbase", "ws", "l2_data", l2(2, "update", "99.500000000000000000000000000002")),
            ("coinbase", "ws", "l2_data", nested),
            ("coinbase", "ws", "l2_data", l2(4, "snapshot", "100.25")),
        ]  # fmt: skip
        writer = LogWriter(root, run, roll_seconds=3600.0)
        try:
            for seq, (exchange, kind, stream, payload) in enumerate(rows):
                recv_ns = t0 + seq * 100_000_000
                writer.append(
                    RawRecord(recv_ns, exchange, run, 1, seq, kind, stream, None, payload)
                )
        finally:
            writer.close()
        t0 += 600_000_000_000


def test_pure_python_fallback_handles_refused_frames_identically(tmp_path):
    _write_faulty_log(tmp_path)
    compiled = _outputs("compiled", tmp_path)
    for kind in (b"malformed", b"inexact_number", b'"run":"two"'):
        assert kind in compiled
    assert _outputs("pure", tmp_path) == compiled
