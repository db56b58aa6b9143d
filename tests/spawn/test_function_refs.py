"""One function-ref cache serves the pool and the Executor: the same refusals, the same fix."""

from __future__ import annotations

import math

import pytest
import trio

from spawn import Executor, NotByReference, open_pool
from spawn._calls import FunctionRefs
from tests.leaks import LeakCheck
from tests.spawn import workload

DEADLINE = 60


class Unhashable:
    """A callable that defines equality and so no hash."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Unhashable)

    __hash__ = None  # type: ignore[assignment]

    def __call__(self) -> int:
        return 1


UNHASHABLE = Unhashable()


async def test_an_unhashable_callable_is_refused_as_the_executor_refuses_it(
    leaks: LeakCheck,
) -> None:
    """``pool.run`` says why the callable cannot travel (with the fix), as the msgpack Executor
    does, instead of a bare "unhashable type"; nothing is started for it."""
    with (
        Executor(max_workers=1, codec="msgpack") as executor,
        pytest.raises(NotByReference) as refused,
    ):
        executor.submit(UNHASHABLE)
    with trio.fail_after(DEADLINE):
        async with open_pool(max_workers=1, spares=0) as pool:
            with pytest.raises(NotByReference) as info:
                await pool.run(UNHASHABLE)
            assert str(info.value) == str(refused.value)
            assert "importable module" in str(info.value)
            assert pool.statistics().started == 0


def test_the_cache_names_what_function_ref_names() -> None:
    refs = FunctionRefs()
    assert refs.get(math.sqrt) == refs.get(math.sqrt) == ("math", "sqrt")
    assert refs.get(workload.pid) == ("tests.spawn.workload", "pid")
    with pytest.raises(NotByReference, match="lambda"):
        refs.get(lambda: 0)
    with pytest.raises(NotByReference, match="no module and qualified name"):
        refs.get(UNHASHABLE)
