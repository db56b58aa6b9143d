"""``executor_small_tasks``: tasks/s of a trivial function, ours against ProcessPoolExecutor.

Both executors are started and warmed outside the measured window; each sample
times ``n`` tasks through ``submit`` (one future each) or ``map`` with a chunksize.
"""

from __future__ import annotations

import multiprocessing
import operator
import time
from collections.abc import Callable
from concurrent import futures

from spawn import Executor

from ._core import OURS, Case

WORKERS = 2


def _warm(executor: futures.Executor) -> None:
    list(executor.map(operator.add, range(WORKERS * 4), range(WORKERS * 4)))


def _submit_rate(executor: futures.Executor, n: int) -> float:
    start = time.perf_counter()
    fs = [executor.submit(operator.add, i, 1) for i in range(n)]
    for f in fs:
        f.result()
    return n / (time.perf_counter() - start)


def _map_rate(executor: futures.Executor, n: int, chunksize: int) -> float:
    start = time.perf_counter()
    for _ in executor.map(operator.add, range(n), range(n), chunksize=chunksize):
        pass
    return n / (time.perf_counter() - start)


def _ours() -> futures.Executor:
    return Executor(max_workers=WORKERS)


def _ours_msgpack() -> futures.Executor:
    return Executor(max_workers=WORKERS, codec="msgpack")


def _stdlib() -> futures.Executor:
    return futures.ProcessPoolExecutor(
        max_workers=WORKERS, mp_context=multiprocessing.get_context("spawn")
    )


def _sample(make: Callable[[], futures.Executor], measure: Callable[[futures.Executor], float]):  # type: ignore[no-untyped-def]
    def sample() -> float:
        with make() as executor:
            _warm(executor)
            return measure(executor)

    return sample


def cases(quick: bool) -> list[Case]:
    n = 2_000 if quick else 20_000
    chunk = 100
    out = []
    peers = (
        (OURS, _ours),
        (f"{OURS} codec=msgpack", _ours_msgpack),
        ("ProcessPoolExecutor", _stdlib),
    )
    for subject, make in peers:
        out.append(
            Case(
                "executor_small_tasks",
                subject,
                "tasks/s",
                _sample(make, lambda ex: _submit_rate(ex, n)),
            )
        )
        out.append(
            Case(
                "executor_map_chunked",
                subject,
                "tasks/s",
                _sample(make, lambda ex: _map_rate(ex, n * 5, chunk)),
            )
        )
    return out
