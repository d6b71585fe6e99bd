"""``xle dashboard --replay`` over a log on S3 shows what it shows for the log on disk."""

from __future__ import annotations

from xle import to_ns
from xle.cli.dashboard import _replay_session
from xle.config import load_config
from xle.store.paths import data_root

START, END = "2021-10-12T00:24:00Z", "2021-10-12T00:30:00Z"


def _books_at(root: str, at: str) -> dict:
    session, _history = _replay_session(
        load_config(), data_root(root), START, END, "1", True, None, None
    )
    session.start()
    try:
        assert session.wait_idle()
        session.seek(to_ns(at))
        assert session.wait_idle()
        with session.state.lock:
            engine = session.state.engine
            return {key: engine.book_view(*key) for key in engine.book_keys()}
    finally:
        session.stop()


def test_a_dashboard_replay_from_s3_seeks_to_the_books_of_the_local_one(real_local, real_s3):
    at = "2021-10-12T00:28:50Z"
    books = _books_at(real_s3, at)
    assert books
    assert books == _books_at(str(real_local), at)
