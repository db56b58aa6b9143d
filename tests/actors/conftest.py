from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from actors import Runtime, open_runtime


@pytest.fixture(params=[False, True], ids=["plain", "encoded"])
async def runtime(request: pytest.FixtureRequest) -> AsyncIterator[Runtime]:
    """A runtime, once as is and once encoding every message as if it crossed a process.

    It must be empty (no actor, no task) once the test is over. The check runs
    before the runtime closes: a test stops what it started, it does not rely on
    the runtime's own shutdown.
    """
    async with open_runtime(encode_messages=request.param) as rt:
        yield rt
        stats = rt.statistics()
        assert stats.actors == 0, "actors left alive after the test"
        assert stats.tasks == 0, "tasks left behind after the test"
