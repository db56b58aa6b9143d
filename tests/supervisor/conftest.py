from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from actors import Runtime, open_runtime


@pytest.fixture
async def runtime() -> AsyncIterator[Runtime]:
    """A runtime that must be empty (no actor, no task) once the test is over.

    The check runs before the runtime closes: the tree must have cleaned up
    after itself, not relied on the runtime's own shutdown.
    """
    async with open_runtime() as rt:
        yield rt
        stats = rt.statistics()
        assert stats.actors == 0, "actors left alive after the test"
        assert stats.tasks == 0, "tasks left behind after the test"


@pytest.fixture
def log() -> list[tuple[str, str]]:
    """What the workers of one test did, in order: ("start" | "stop" | "exit", name)."""
    return []
