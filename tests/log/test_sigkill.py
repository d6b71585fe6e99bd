"""kill -9 of a recording writer loses at most the last flush interval, and nothing twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from xle.store.reader import read_records
from xle.store.writer import LogWriter

CHILD = Path(__file__).with_name("writer_child.py")
FLUSH_SECONDS = 0.1
#: Rolls often, so the kill may land during a conversion or with a journal pending.
ROLL_SECONDS = 0.45
#: Scheduling slack on a shared 2-core machine: a flush may run a little late.
MARGIN_SECONDS = 0.8


def test_sigkill_mid_stream_then_recovery_keeps_every_flushed_record_once(root: Path):
    proc = subprocess.Popen(
        [
            sys.executable,
            str(CHILD),
            str(root),
            "victim",
            "4000",
            str(FLUSH_SECONDS),
            str(ROLL_SECONDS),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    appended: list[tuple[int, int]] = []  # (seq, recv_ns) the child reported after append

    def collect() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("ready"):
                continue
            seq, recv_ns = line.split()
            appended.append((int(seq), int(recv_ns)))

    reader = threading.Thread(target=collect)
    reader.start()
    try:
        deadline = time.monotonic() + 30
        while len(appended) < 200 and time.monotonic() < deadline:  # ~2.5 s of recording
            time.sleep(0.05)
        kill_ns = time.time_ns()
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
        reader.join(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    LogWriter.recover(root)
    records = list(read_records(root).records())
    seqs = [r.seq for r in records]
    assert len(seqs) == len(set(seqs)), "duplicates after recovery"
    assert sorted(seqs) == list(range(len(seqs))), "recovered records are not a prefix"
    assert all(r.payload == f"victim:{r.seq}".encode() for r in records)
    cutoff = kill_ns - int((FLUSH_SECONDS + MARGIN_SECONDS) * 1e9)
    must_have = max(seq for seq, recv_ns in appended if recv_ns < cutoff)
    assert max(seqs) >= must_have
    assert [r.recv_ns for r in records] == sorted(r.recv_ns for r in records)
