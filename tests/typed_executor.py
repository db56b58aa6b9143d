"""What mypy (the strict gate over ``tests/``) sees of the Executor and the pool: never run.

Each ``assert_type`` fails the gate if a type widens to ``Any``; each
``# type: ignore[arg-type]`` fails it (``warn_unused_ignores``) if mypy stops
flagging the wrong argument, as typeshed's ProcessPoolExecutor has it flagged.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future
from typing import assert_type

from spawn import Executor, Pool


def cpu_bound(n: int) -> int:
    return n * n


def greet(name: str, *, punctuation: str = "!") -> str:
    return name + punctuation


def executor_types(ex: Executor) -> None:
    assert_type(ex.submit(cpu_bound, 1), Future[int])
    assert_type(ex.submit(greet, "hi", punctuation="?"), Future[str])
    assert_type(ex.map(cpu_bound, [1, 2]), Iterator[int])
    assert_type(ex.map(cpu_bound, [1, 2], chunksize=4), Iterator[int])
    ex.submit(cpu_bound, "not an int")  # type: ignore[arg-type]
    ex.submit(greet, "hi", punctuation=1)  # type: ignore[arg-type]


async def pool_types(pool: Pool) -> None:
    assert_type(await pool.run(cpu_bound, 1), int)
    assert_type(await pool.apply(greet, ("hi",)), str)
    await pool.run(cpu_bound, "not an int")  # type: ignore[arg-type]
