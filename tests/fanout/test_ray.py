"""Fan-out on a local Ray with 2 CPUs: the same rows as serial, one result per combination."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fanout.conftest import FIRST_MIDNIGHT, HOUR_NS, LOG_END, LOG_START
from tests.fanout.helpers import derived_rows
from xle.backtesting import sweep
from xle.replay.fanout import fanout_replay
from xle.replay.session import run_replay
from xle.store.derived import Scope

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'xle[ray]')")

pytestmark = pytest.mark.ray

STRATEGY = str(Path(__file__).with_name("strategies.py")) + ":Alternate"


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


def test_replay_on_ray_equals_serial(local_ray, multiday: Path, second_copy: Path, config) -> None:
    scope = Scope(LOG_START, LOG_END)
    run_replay(multiday, scope, config)
    fanout_replay(second_copy, scope, config, cluster="ray")
    assert derived_rows(second_copy) == derived_rows(multiday)


def test_sweep_on_ray_returns_one_tagged_result_per_combination(
    local_ray, multiday: Path, config
) -> None:
    results = sweep(
        STRATEGY,
        multiday,
        FIRST_MIDNIGHT - HOUR_NS,
        FIRST_MIDNIGHT + HOUR_NS,
        grid={"every": [20, 70], "size": ["0.01", "0.02"]},
        cluster="ray",
        config=config,
    )
    assert [r.params for r in results] == [
        {"every": 20, "size": "0.01"},
        {"every": 20, "size": "0.02"},
        {"every": 70, "size": "0.01"},
        {"every": 70, "size": "0.02"},
    ]
    assert len({r.digest for r in results}) == 4
