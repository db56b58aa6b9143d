"""The helpers of tests/support.py fail the way a reader of a failed test needs."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from tests.support import eventually


async def test_eventually_returns_the_first_truthy_value(
    autojump_clock: trio.testing.MockClock,
) -> None:
    answers: list[int | None] = [None, 0, 7]
    pending = iter(answers)

    async def check() -> int | None:
        await trio.lowlevel.checkpoint()
        return next(pending)

    assert await eventually(check, what="seven") == 7


async def test_eventually_fails_naming_what_it_waited_for(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def never() -> bool:
        await trio.lowlevel.checkpoint()
        return False

    start = trio.current_time()
    with pytest.raises(AssertionError, match=r"timed out after 3\.0 s waiting for the moon"):
        await eventually(never, what="the moon", timeout=3.0)
    assert trio.current_time() - start == pytest.approx(3.0)
