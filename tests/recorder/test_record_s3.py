"""Recording into object storage: staged locally, each rolled file uploaded as one object.

Everything runs against the moto S3 server on 127.0.0.1 (``tests/s3server.py``): the
uploader's retries against a bucket that does not exist yet, a crash between a PUT and
the local delete, a ``kill -9`` of a real ``xle record`` followed by a restart, and two
sharded recorders writing into one root at the same time.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from tests.recorder.e2e import read_stats as _read_stats
from tests.recorder.e2e import wait_for as _wait_for
from tests.s3server import aws_env
from xle.errors import DataError, UsageError
from xle.recorder.shards import ShardClaim
from xle.records import RawRecord
from xle.simulator import SimConfig, start_in_thread
from xle.store.fs import filesystem_of
from xle.store.layout import parse_partition
from xle.store.upload import (
    Uploader,
    default_journal_dir,
    prune_empty_partitions,
    recover_remote,
    staged_files,
)
from xle.store.writer import LogWriter

pytestmark = pytest.mark.e2e

XLE = [sys.executable, "-m", "xle.cli"]


# --------------------------------------------------------------------------- helpers


def _stage(staging: Path, run: str, records: int = 50) -> list[Path]:
    """Write one run of ``records`` records into a staging root, rolled to Parquet."""
    base = 1_764_856_800_000_000_000  # 2025-12-04T14:00Z
    with LogWriter(staging, run, roll_seconds=3600) as writer:
        for seq in range(1, records + 1):
            exchange = "binance" if seq % 2 else "coinbase"
            writer.append(
                RawRecord(
                    base + seq * 1_000_000, exchange, run, 1, seq, "ws", "s", "BTCUSDT",
                    f"{run}:{seq}".encode(),
                )
            )  # fmt: skip
    return staged_files(staging, run)


def _objects(uri: str) -> dict[str, bytes]:
    """Every object under the root, by key relative to it."""
    fs, prefix = filesystem_of(uri)
    infos = fs.get_file_info(pafs.FileSelector(prefix, recursive=True, allow_not_found=True))
    out = {}
    for info in infos:
        if info.type == pafs.FileType.File:
            with fs.open_input_stream(info.path) as stream:
                out[info.path[len(prefix) + 1 :]] = stream.read()
    return out


def _bucket_keys(uri: str) -> Counter[tuple[str, str, int, int]]:
    """(exchange, run, conn, seq) of every record in the root's raw objects, counted."""
    fs, prefix = filesystem_of(uri)
    selector = pafs.FileSelector(f"{prefix}/raw", recursive=True, allow_not_found=True)
    keys: Counter[tuple[str, str, int, int]] = Counter()
    for info in fs.get_file_info(selector):
        if info.type != pafs.FileType.File or not info.path.endswith(".parquet"):
            continue
        partition = parse_partition(info.path)
        assert partition is not None, info.path
        table = pq.read_table(info.path, filesystem=fs, columns=["run", "conn", "seq"])
        columns = (table.column(name).to_pylist() for name in ("run", "conn", "seq"))
        for run, conn, seq in zip(*columns, strict=True):
            keys[(partition.exchange, str(run), conn, seq)] += 1
    return keys


def _record(*args: str) -> list[str]:
    return [*XLE, "record", "--no-engine", *args]


# --------------------------------------------------------------------------- uploader


def test_a_rolled_file_becomes_one_object_at_the_same_key_and_leaves_the_staging_dir(
    tmp_path, s3_root
):
    staging = tmp_path / "staging"
    files = _stage(staging, "run-a")
    local = {f.relative_to(staging).as_posix(): f.read_bytes() for f in files}
    done = recover_remote(s3_root, staging)
    assert (done.uploaded, done.waiting) == (len(files), 0)
    assert _objects(s3_root) == local
    assert staged_files(staging) == []


def test_a_failing_upload_keeps_the_file_and_is_retried_until_the_bucket_exists(tmp_path, s3_env):
    import boto3

    bucket = "xle-late-bucket"
    uri = f"s3://{bucket}/data"
    staging = tmp_path / "staging"
    files = _stage(staging, "run-late")
    uploader = Uploader(staging, uri, run="run-late", poll_seconds=0.05, backoff_initial=0.05)
    uploader.start()
    try:
        _wait_for(lambda: uploader.stats.failures >= 2, 30)
        assert all(f.exists() for f in files)  # never lost while failing
        assert uploader.stats.waiting == len(files)
        assert uploader.stats.last_error
        boto3.client("s3", endpoint_url=s3_env["AWS_ENDPOINT_URL"]).create_bucket(Bucket=bucket)
        _wait_for(lambda: uploader.stats.uploaded == len(files), 30)
    finally:
        stats = uploader.close()
    assert stats.waiting == 0 and stats.last_error == ""
    assert sorted(_objects(uri)) == sorted(f.relative_to(staging).as_posix() for f in files)


def test_a_crash_between_put_and_local_delete_reuploads_identical_bytes_to_the_same_key(
    tmp_path, s3_root
):
    staging = tmp_path / "staging"
    files = _stage(staging, "run-put")
    kept = {f: f.read_bytes() for f in files}
    recover_remote(s3_root, staging)
    for path, data in kept.items():  # as if the process died after the PUT, before unlink
        path.parent.mkdir(parents=True, exist_ok=True)  # recovery pruned the old empty hour
        path.write_bytes(data)
    done = recover_remote(s3_root, staging)
    assert done.uploaded == len(files)
    objects = _objects(s3_root)
    assert objects == {f.relative_to(staging).as_posix(): d for f, d in kept.items()}
    keys = _bucket_keys(s3_root)
    assert set(keys.values()) == {1} and len(keys) == 50


def test_recovery_leaves_the_files_of_a_live_uploader_alone(tmp_path, s3_root):
    staging = tmp_path / "staging"
    _stage(staging, "run-live")
    live = Uploader(staging, "s3://xle-no-such-bucket/x", run="run-live", backoff_initial=60)
    live.start()
    try:
        done = recover_remote(s3_root, staging)
    finally:
        live.close()
    assert done.uploaded == 0 and done.waiting > 0
    assert _objects(s3_root) == {}


def test_an_upload_error_never_repeats_a_credential(tmp_path, s3_env, monkeypatch):
    # moto accepts any key, so the error that repeats it is one naming a missing bucket
    # called after the key: the SDK's text reaches the message, the key does not.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "akia-sentinel-key-id")
    staging = tmp_path / "staging"
    _stage(staging, "run-key")
    uploader = Uploader(staging, "s3://akia-sentinel-key-id/x", attempts=1)
    stats = uploader.upload_all()
    assert (stats.failures, stats.uploaded) == (1, 0)
    assert "akia-sentinel-key-id" not in stats.last_error
    assert "***" in stats.last_error


def test_a_uri_with_credentials_is_refused_without_repeating_them(tmp_path, s3_env):
    with pytest.raises(DataError) as err:
        Uploader(tmp_path, "s3://AKIASECRETKEY:sekrit@bucket/data", run="r")
    assert "AKIASECRETKEY" not in str(err.value) and "sekrit" not in str(err.value)


def test_the_default_staging_dir_is_per_root_under_the_cache_directory(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    one, two = default_journal_dir("s3://b/one"), default_journal_dir("s3://b/two")
    assert one.parent == tmp_path / "xle" / "journal"
    assert one != two and default_journal_dir("s3://b/one/") == one


def test_empty_staging_folders_go_once_no_writer_can_roll_into_them(tmp_path):
    raw = tmp_path / "raw" / "exchange=binance"
    old_day, today = raw / "date=2026-12-03", raw / "date=2026-12-04"
    for folder in (old_day / "hour=23", today / "hour=10", today / "hour=13", today / "hour=11"):
        folder.mkdir(parents=True)
    (today / "hour=11" / "run-0.parquet").write_bytes(b"waiting")
    now_ns = 1_796_393_400_000_000_000  # 2026-12-04T14:10Z
    assert prune_empty_partitions(tmp_path, now_ns) == 2  # 2026-12-03 23h and 10h
    assert sorted(p.name for p in today.iterdir()) == ["hour=11", "hour=13"]
    assert not old_day.exists() and raw.is_dir()


# --------------------------------------------------------------------------- shard claims


def test_a_second_claim_on_the_same_book_in_one_root_is_refused(tmp_path):
    first = ShardClaim.acquire(tmp_path, "run-1", {"binance": ["BTCUSDT", "ETHUSDT"]})
    try:
        with pytest.raises(UsageError, match=r"binance ETHUSDT already recorded .* run-1"):
            ShardClaim.acquire(tmp_path, "run-2", {"binance": ["ethusdt"]})
        other = ShardClaim.acquire(tmp_path, "run-3", {"coinbase": ["ETH-USD"]})  # disjoint
        other.release()
    finally:
        first.release()
    again = ShardClaim.acquire(tmp_path, "run-4", {"binance": ["ETHUSDT"]})  # first stopped
    again.release()


def test_the_claim_of_a_killed_recorder_does_not_block_the_next_one(tmp_path):
    code = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from xle.recorder.shards import ShardClaim\n"
        "ShardClaim.acquire(Path(sys.argv[1]), 'dead', {'binance': ['BTCUSDT']})\n"
        "os.kill(os.getpid(), 9)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path)], timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert (tmp_path / "raw" / "_claims" / "dead.json").exists()
    claim = ShardClaim.acquire(tmp_path, "next", {"binance": ["BTCUSDT"]})
    claim.release()
    assert not (tmp_path / "raw" / "_claims" / "dead.json").exists()


def test_xle_record_refuses_a_book_another_live_recorder_writes_into_the_same_local_root(
    tmp_path,
):
    data, stats_file = tmp_path / "data", tmp_path / "stats.json"
    with start_in_thread(SimConfig(seed=2, levels=10)) as sim:
        target = f"127.0.0.1:{sim.port}"
        first = subprocess.Popen(
            _record("--simulator", target, "--data", str(data), "--exchange", "binance",
                    "--stats-file", str(stats_file)),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            _wait_for(lambda: (_read_stats(stats_file) or {}).get("records", 0) > 5, 30, first)
            second = subprocess.run(
                _record("--simulator", target, "--data", str(data), "--symbol",
                        "binance:BTCUSDT", "--duration", "5"),
                capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            disjoint = subprocess.run(
                _record("--simulator", target, "--data", str(data), "--exchange", "coinbase",
                        "--duration", "1"),
                capture_output=True, text=True, timeout=60,
            )  # fmt: skip
        finally:
            first.send_signal(signal.SIGINT)
            first.communicate(timeout=60)
    assert second.returncode == 2
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1 and "binance BTCUSDT already recorded" in lines[0]
    assert "recording" not in second.stdout
    assert disjoint.returncode == 0, disjoint.stderr
    assert first.returncode == 0


# --------------------------------------------------------------------------- xle record


def test_xle_record_into_s3_uploads_every_rolled_file_and_leaves_nothing_staged(tmp_path, s3_root):
    staging, stats_file = tmp_path / "staging", tmp_path / "stats.json"
    with start_in_thread(SimConfig(seed=3, levels=20)) as sim:
        result = subprocess.run(
            _record("--simulator", f"127.0.0.1:{sim.port}", "--data", s3_root,
                    "--journal-dir", str(staging), "--roll-seconds", "0.5", "--duration", "3",
                    "--stats-file", str(stats_file)),
            capture_output=True, text=True, timeout=90,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    final = _read_stats(stats_file)
    assert final is not None and final["upload"]["waiting"] == 0
    assert "0 waiting to s3://" in result.stdout
    keys = _bucket_keys(s3_root)
    assert set(keys.values()) == {1}
    assert sorted(seq for _, _, _, seq in keys) == list(range(1, final["records"] + 1))
    assert final["upload"]["uploaded"] == len(_objects(s3_root)) > 3  # several rolls
    assert staged_files(staging) == [] and not list((staging / "raw" / "_journal").iterdir())
    for secret in ("xle-test-secret", "xle-test-key"):
        assert secret not in result.stdout + result.stderr
        assert secret.encode() not in stats_file.read_bytes()
        for path in staging.rglob("*"):
            assert not path.is_file() or secret.encode() not in path.read_bytes(), path
        assert all(secret.encode() not in data for data in _objects(s3_root).values())


@pytest.mark.parametrize("restart", ["record", "recover-only"])
def test_sigkill_then_restart_leaves_every_journaled_record_in_the_bucket_exactly_once(
    tmp_path, s3_root, restart
):
    staging, stats_file = tmp_path / "staging", tmp_path / "stats.json"
    config = SimConfig(seed=5, binance_rate=100.0, coinbase_rate=100.0, levels=20)
    with start_in_thread(config) as sim:
        target = f"127.0.0.1:{sim.port}"
        proc = subprocess.Popen(
            _record("--simulator", target, "--data", s3_root, "--journal-dir", str(staging),
                    "--roll-seconds", "2", "--stats-file", str(stats_file)),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

        def uploading() -> bool:
            stats = _read_stats(stats_file) or {}
            return stats.get("durable_seq", 0) > 1000 and stats["upload"]["uploaded"] >= 3

        def sizes() -> dict[str, int]:
            found = {}
            for path in journals.glob("*.arrow"):
                with contextlib.suppress(FileNotFoundError):  # rolled meanwhile
                    found[path.name] = path.stat().st_size
            return found

        journals = staging / "raw" / "_journal"
        _wait_for(uploading, 30, proc)
        before = set(sizes())
        # A segment opened since: records are fsynced in it and its roll is about a second
        # away, so the kill lands with a journal to recover (and its files to upload).
        _wait_for(lambda: any(n not in before and b > 4096 for n, b in sizes().items()), 30, proc)
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)
        last = _read_stats(stats_file)
        assert last is not None
        first_run = last["run"]
        args = ["--simulator", target, "--data", s3_root, "--journal-dir", str(staging)]
        if restart == "record":
            args += ["--duration", "1"]
        else:
            args += ["--recover-only"]
        again = subprocess.run(_record(*args), capture_output=True, text=True, timeout=90)
    assert again.returncode == 0, again.stderr
    assert "recovered" in again.stdout and "files left by earlier runs" in again.stdout
    keys = _bucket_keys(s3_root)
    assert set(keys.values()) == {1}, "a record is in the bucket twice"
    seqs = sorted(seq for _, run, _, seq in keys if run == first_run)
    assert seqs == list(range(1, len(seqs) + 1)), "a hole in the crashed run"
    assert len(seqs) >= last["durable_seq"], "a journaled record is missing"
    assert len({run for _, run, _, _ in keys}) == (2 if restart == "record" else 1)
    assert staged_files(staging) == [] and not list((staging / "raw" / "_journal").iterdir())


class _Store:
    """A moto server of its own that can go down and come back on the same port (moto
    keeps the buckets in the process, so the store returns with what it held)."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        self._make = lambda port: ThreadedMotoServer(ip_address="127.0.0.1", port=port)
        self._server = self._make(0)
        self._server.start()
        host, self.port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{self.port}"
        self.up = True

    def stop(self) -> None:
        if self.up:
            self._server.stop()
            self.up = False

    def start(self) -> None:
        if not self.up:
            self._server = self._make(self.port)
            self._server.start()
            self.up = True


@pytest.mark.slow  # each failed request waits out the S3 client's own retries (~6 s)
def test_an_object_store_outage_never_stops_capture_and_loses_nothing(
    tmp_path, s3_env, monkeypatch
):
    import boto3

    store = _Store()
    monkeypatch.setenv("AWS_ENDPOINT_URL", store.endpoint)  # this test and its children
    root, staging, stats_file = "s3://xle-outage/data", tmp_path / "staging", tmp_path / "s.json"

    def stats() -> dict:
        return _read_stats(stats_file) or {"records": 0, "upload": {"uploaded": 0}}

    try:
        boto3.client("s3", endpoint_url=store.endpoint).create_bucket(Bucket="xle-outage")
        with start_in_thread(SimConfig(seed=6, levels=10)) as sim:
            proc = subprocess.Popen(
                _record("--simulator", f"127.0.0.1:{sim.port}", "--data", root,
                        "--journal-dir", str(staging), "--roll-seconds", "0.5",
                        "--stats-file", str(stats_file)),
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )  # fmt: skip
            _wait_for(lambda: stats()["upload"]["uploaded"] > 0, 30, proc)
            store.stop()
            at_outage = stats()["records"]
            _wait_for(lambda: stats()["upload"]["failures"] >= 2, 60, proc)
            _wait_for(lambda: stats()["upload"]["waiting"] >= 3, 30, proc)
            during = stats()
            store.start()
            _wait_for(lambda: stats()["upload"]["waiting"] == 0, 60, proc)
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert during["upload"]["failures"] > 0 and during["upload"]["last_error"]
        assert during["records"] > at_outage  # capture went on while uploads failed
        final = _read_stats(stats_file)
        assert final is not None and final["upload"]["waiting"] == 0
        keys = _bucket_keys(root)
        assert set(keys.values()) == {1}
        assert sorted(seq for _, _, _, seq in keys) == list(range(1, final["records"] + 1))
        assert staged_files(staging) == []
    finally:
        store.stop()


# --------------------------------------------------------------------------- sharded recorders


def _record_two_shards(sim_port: int, root: str, env: dict[str, str]) -> list[dict]:
    """binance and coinbase recorded at the same time by two ``xle record`` processes."""
    Path(env["XDG_CACHE_HOME"]).mkdir(parents=True, exist_ok=True)
    procs = []
    for venue in ("binance", "coinbase"):
        stats_file = Path(env["XDG_CACHE_HOME"]) / f"{venue}.json"
        command = _record(
            "--simulator", f"127.0.0.1:{sim_port}", "--data", root, "--exchange", venue,
            "--roll-seconds", "0.5", "--duration", "2.5", "--stats-file", str(stats_file),
        )  # fmt: skip
        proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        procs.append((proc, stats_file))
    finals = []
    for proc, stats_file in procs:
        _, err = proc.communicate(timeout=90)
        assert proc.returncode == 0, err
        finals.append(_read_stats(stats_file))
    return finals


def _assert_disjoint_complete_runs(keys: Counter, finals: list[dict]) -> None:
    assert set(keys.values()) == {1}
    for venue, final in zip(("binance", "coinbase"), finals, strict=True):
        mine = [k for k in keys if k[1] == final["run"]]
        assert {ex for ex, _, _, _ in mine} == {venue}
        assert sorted(seq for _, _, _, seq in mine) == list(range(1, final["records"] + 1))


@dataclass
class _Shards:
    root: str
    cache: Path
    finals: list[dict]


@pytest.fixture(scope="module")
def two_shards_in_s3(s3_endpoint, tmp_path_factory) -> _Shards:
    """binance and coinbase recorded at once into one bucket, sharing the default staging
    directory of the root (the harder case); recorded once for the tests that read it."""
    import boto3

    cache = tmp_path_factory.mktemp("shards") / "cache"
    aws = aws_env(s3_endpoint)
    keys = {"aws_access_key_id": aws["AWS_ACCESS_KEY_ID"]}
    keys["aws_secret_access_key"] = aws["AWS_SECRET_ACCESS_KEY"]
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1", **keys)
    client.create_bucket(Bucket="xle-shards")
    env = {**os.environ, **aws, "XDG_CACHE_HOME": str(cache)}
    with start_in_thread(SimConfig(seed=7, levels=20)) as sim:
        finals = _record_two_shards(sim.port, "s3://xle-shards/data", env)
    return _Shards("s3://xle-shards/data", cache, finals)


def test_two_shards_record_into_one_s3_root_at_once_without_colliding(two_shards_in_s3, s3_env):
    shards = two_shards_in_s3
    _assert_disjoint_complete_runs(_bucket_keys(shards.root), shards.finals)
    (staging,) = (shards.cache / "xle" / "journal").iterdir()  # one default dir, shared
    assert staged_files(staging) == []


def test_two_shards_record_into_one_local_root_at_once_and_replay_merged(tmp_path):
    import xle
    from xle.store.reader import read_records

    data = tmp_path / "data"
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    with start_in_thread(SimConfig(seed=7, levels=20)) as sim:
        finals = _record_two_shards(sim.port, str(data), env)
    keys = Counter((r.exchange, r.run, r.conn, r.seq) for r in read_records(data).records())
    _assert_disjoint_complete_runs(keys, finals)
    outputs = list(xle.open(data).replay())
    gaps = [o for o in outputs if getattr(o, "kind", None) in ("gap", "resync", "crossed_book")]
    assert gaps == []
    quoted = {o.exchange for o in outputs if type(o).__name__ == "Quote"}
    assert quoted == {"binance", "coinbase"}


def test_two_shards_recorded_into_s3_replay_merged_from_the_bucket(
    two_shards_in_s3, s3_env, tmp_path
):
    import xle

    root = two_shards_in_s3.root
    local = tmp_path / "copy"
    for key, data in _objects(root).items():
        (local / key).parent.mkdir(parents=True, exist_ok=True)
        (local / key).write_bytes(data)
    from_bucket = list(xle.open(root).replay())
    assert from_bucket == list(xle.open(local).replay())
    assert {o.exchange for o in from_bucket if type(o).__name__ == "Quote"} == {
        "binance",
        "coinbase",
    }
    assert not [o for o in from_bucket if getattr(o, "kind", None) in ("gap", "resync")]


def test_a_recording_in_s3_answers_book_audit_query_and_compact_as_its_local_copy(
    two_shards_in_s3, s3_env, tmp_path
):
    """Record -> S3 -> every reader: the bucket and a download of it give the same books,
    audit, SQL and (after compacting both, every hour treated as closed) the same records."""
    import xle
    from xle.store.compact import compact
    from xle.store.fs import as_root
    from xle.store.reader import read_records

    root = two_shards_in_s3.root
    local = tmp_path / "copy"
    for key, data in _objects(root).items():
        (local / key).parent.mkdir(parents=True, exist_ok=True)
        (local / key).write_bytes(data)
    remote, on_disk = xle.open(root), xle.open(local)
    first, last = on_disk.bounds()
    assert remote.bounds() == (first, last)
    middle = (first + last) // 2
    for exchange in ("binance", "coinbase"):
        for symbol in on_disk.symbols(exchange):
            assert remote.book_at(exchange, symbol, middle) == on_disk.book_at(
                exchange, symbol, middle
            )
    assert remote.audit().to_dict() == on_disk.audit().to_dict()
    query = "select exchange, stream, count(*) as n from raw group by all order by all"
    assert remote.sql(query).to_pylist() == on_disk.sql(query).to_pylist()
    records = list(read_records(local).records())
    far = last + 10 * 3_600_000_000_000
    compact(as_root(root), now_ns=far)
    compact(local, now_ns=far)
    assert list(read_records(root).records()) == records == list(read_records(local).records())


def test_local_recording_keeps_no_staging_directory(tmp_path):
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    with start_in_thread(SimConfig(seed=1, levels=10)) as sim:
        result = subprocess.run(
            _record("--simulator", f"127.0.0.1:{sim.port}", "--data", str(tmp_path / "data"),
                    "--exchange", "binance", "--duration", "1"),
            capture_output=True, text=True, timeout=60, env=env,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "uploaded" not in result.stdout
    assert not (tmp_path / "cache").exists()
    assert list((tmp_path / "data" / "raw").glob("exchange=binance/*/*/*.parquet"))


def test_a_missing_bucket_is_one_line_before_anything_is_recorded(tmp_path, s3_env):
    staging = tmp_path / "staging"
    result = subprocess.run(
        _record("--simulator", "127.0.0.1:9", "--duration", "1", "--data",
                "s3://xle-never-created/data", "--journal-dir", str(staging)),
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: bucket 'xle-never-created' of s3://xle-never-created/data does not exist"
    ]
    assert "recording" not in result.stdout
    assert not list(staging.rglob("*.arrow"))


def test_journal_dir_without_an_object_storage_root_is_a_usage_error(tmp_path):
    result = subprocess.run(
        _record("--data", str(tmp_path / "data"), "--journal-dir", str(tmp_path / "j")),
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: --journal-dir is for an object-storage --data (s3://...)"
    ]


def test_a_graceful_stop_uploads_the_last_roll_before_exiting(tmp_path, s3_root):
    staging = tmp_path / "staging"
    with start_in_thread(SimConfig(seed=8, levels=10)) as sim:
        result = subprocess.run(
            _record("--simulator", f"127.0.0.1:{sim.port}", "--data", s3_root,
                    "--journal-dir", str(staging), "--exchange", "coinbase", "--duration", "1"),
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert staged_files(staging) == []
    assert "uploaded 1 files" in result.stdout and "0 waiting" in result.stdout
    assert list(_objects(s3_root)) == [
        k for k in _objects(s3_root) if k.startswith("raw/exchange=coinbase/")
    ]
