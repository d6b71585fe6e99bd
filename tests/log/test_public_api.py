"""The public names of the raw-log modules, pinned so that a change is a decision."""

from __future__ import annotations

import pytest

import xle.rawlog
import xle.recorder.compact
import xle.recorder.journal
import xle.recorder.logwriter
import xle.replay.reader
import xle.replay.seek


@pytest.mark.parametrize(
    ("module", "names"),
    [
        (
            xle.rawlog,
            {
                "COMPACTED_FROM_KEY",
                "HOUR_NS",
                "JOURNAL_SCHEMA",
                "RAW_SCHEMA",
                "Notice",
                "Partition",
                "fsync_dir",
                "is_log_file",
                "new_run_id",
                "parse_partition",
                "partition_dir",
                "partition_of",
                "partition_value_problem",
                "schema_mismatch",
                "stale_temp_files",
                "temp_path",
                "to_raw_table",
                "validate_run",
            },
        ),
        (
            xle.recorder.logwriter,
            {
                "ConvertResult",
                "LogWriter",
                "Recovery",
                "WriterStats",
                "batch_crc",
                "convert_journal",
                "read_journal",
                "recover_journals",
                "remove_stale_temps",
            },
        ),
        (
            xle.recorder.journal,
            {
                "JOURNAL_FORMAT",
                "JOURNAL_FORMAT_KEY",
                "batch_crc",
                "journal_batches",
                "new_journal",
                "read_journal",
                "records_to_batches",
                "write_batch",
            },
        ),
        (
            xle.recorder.compact,
            {"DEFAULT_GRACE_NS", "CompactResult", "CompactSummary", "compact", "compact_hour"},
        ),
        (
            xle.replay.reader,
            {
                "FileProblem",
                "LogReader",
                "check_files",
                "corrupt_record",
                "hour_dirs",
                "live_files",
                "read_merged",
                "replay_chunks_from",
                "replay_from",
            },
        ),
        (xle.replay.seek, {"DEFAULT_MARGIN_NS", "SeekPlan", "plan_seek"}),
    ],
)
def test_exports_are_pinned(module, names):
    assert set(module.__all__) == names
    assert all(hasattr(module, name) for name in names)
