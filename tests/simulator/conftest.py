"""Fixtures of the simulator tests: simulators on 127.0.0.1 that stop after each test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from xle.simulator import SimConfig, Simulator

MakeSim = Callable[..., Awaitable[Simulator]]


@pytest.fixture
async def make_sim() -> AsyncIterator[MakeSim]:
    """``await make_sim(seed=1, ...)`` -> a started Simulator (SimConfig keyword arguments)."""
    started: list[Simulator] = []

    async def make(**options: Any) -> Simulator:
        sim = Simulator(SimConfig(**options))
        await sim.start()
        started.append(sim)
        return sim

    yield make
    for sim in started:
        await sim.stop()
