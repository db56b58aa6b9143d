"""The ``spawn`` suite: start-up, warm calls and spawn cost against the parent's size.

- ``cold_first_call``: a new function worker until its first answered call, vs the
  bare interpreter floor, multiprocessing (spawn, forkserver) and trio-parallel.
- ``warm_call``: one call into a warm pool, vs trio-parallel and ProcessPoolExecutor.
- ``spawn_parent_rss <size>``: start ``/bin/true`` from a parent holding ``size`` of
  touched memory, with our template (posix_spawn) vs fork+exec. The parent is a
  helper process (``python -m benchmarks._spawn GB``) that measures on request.
"""

from __future__ import annotations

import atexit
import multiprocessing
import operator
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import IO, Any

import trio

from ._core import OURS, Case

_ROOT = Path(__file__).resolve().parents[1]
_SPAWNS_PER_SAMPLE = 10


def _cold_ours() -> float:
    from spawn import open_pool

    async def main() -> float:
        async with open_pool(max_workers=1, spares=0) as pool:
            start = time.perf_counter()
            await pool.run(operator.add, 1, 2)
            return time.perf_counter() - start

    return trio.run(main)


def _cold_floor() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-I", "-S", "-c", "pass"], check=True)
    return time.perf_counter() - start


def _cold_multiprocessing(method: str) -> Callable[[], float]:
    context = multiprocessing.get_context(method)

    def sample() -> float:
        start = time.perf_counter()
        with context.Pool(1) as pool:
            pool.apply(operator.add, (1, 2))
            elapsed = time.perf_counter() - start
            pool.terminate()
        return elapsed

    return sample


def _cold_trio_parallel() -> float:
    import trio_parallel

    async def main() -> float:
        async with trio_parallel.open_worker_context() as context:
            start = time.perf_counter()
            await context.run_sync(operator.add, 1, 2)
            return time.perf_counter() - start

    return float(trio.run(main))


def _warm_ours(calls: int) -> Callable[[], float]:
    from spawn import open_pool

    async def main() -> float:
        async with open_pool(max_workers=1) as pool:
            await pool.run(operator.add, 1, 2)
            start = time.perf_counter()
            for _ in range(calls):
                await pool.run(operator.add, 1, 2)
            return (time.perf_counter() - start) / calls

    return lambda: trio.run(main)


def _warm_trio_parallel(calls: int) -> Callable[[], float]:
    async def main() -> float:
        import trio_parallel

        async with trio_parallel.open_worker_context() as context:
            await context.run_sync(operator.add, 1, 2)
            start = time.perf_counter()
            for _ in range(calls):
                await context.run_sync(operator.add, 1, 2)
            return (time.perf_counter() - start) / calls

    return lambda: float(trio.run(main))


def _warm_executor(calls: int) -> Callable[[], float]:
    def sample() -> float:
        with ProcessPoolExecutor(1) as executor:
            executor.submit(operator.add, 1, 2).result()
            start = time.perf_counter()
            for _ in range(calls):
                executor.submit(operator.add, 1, 2).result()
            return (time.perf_counter() - start) / calls

    return sample


class _BigParent:
    """A helper process holding ``gigabytes`` of touched memory; it times spawns on request."""

    def __init__(self, gigabytes: float) -> None:
        self.gigabytes = gigabytes
        self._process: subprocess.Popen[str] | None = None

    def _helper(self) -> tuple[IO[str], IO[str]]:
        if self._process is None:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "benchmarks._spawn", str(self.gigabytes)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                cwd=_ROOT,
            )
            assert self._process.stdout is not None
            assert self._process.stdout.readline().strip() == "ready"
        assert self._process.stdin is not None
        assert self._process.stdout is not None
        return self._process.stdin, self._process.stdout

    def sample(self, how: str) -> Callable[[], float]:
        def measure() -> float:
            stdin, stdout = self._helper()
            stdin.write(how + "\n")
            stdin.flush()
            return float(stdout.readline())

        return measure

    def close(self) -> None:
        if self._process is not None:
            self._process.communicate("", timeout=60)


def cases(quick: bool) -> list[Case]:
    calls = 50 if quick else 300
    result = [
        Case("cold_first_call", OURS, "s", _cold_ours),
        Case("cold_first_call", "python -I -S -c pass", "s", _cold_floor),
        Case("cold_first_call", "multiprocessing spawn", "s", _cold_multiprocessing("spawn")),
        Case(
            "cold_first_call",
            "multiprocessing forkserver",
            "s",
            _cold_multiprocessing("forkserver"),
        ),
        Case("cold_first_call", "trio-parallel", "s", _cold_trio_parallel),
        Case("warm_call", OURS, "s", _warm_ours(calls)),
        Case("warm_call", "trio-parallel", "s", _warm_trio_parallel(calls)),
        Case("warm_call", "ProcessPoolExecutor", "s", _warm_executor(calls)),
    ]
    for gigabytes in (0.1,) if quick else (0.1, 1.0, 4.0):
        parent = _BigParent(gigabytes)
        atexit.register(parent.close)
        scenario = f"spawn_parent_rss {gigabytes:g}GB"
        result.append(Case(scenario, OURS, "s", parent.sample("spawn")))
        result.append(Case(scenario, "fork", "s", parent.sample("fork")))
    return result


def _time_spawns(how: str) -> float:
    """Seconds to start ``/bin/true`` and reap it: the median of a few runs."""
    from spawn import SpawnTemplate

    template = SpawnTemplate.program(["/bin/true"], env={})
    times = []
    for _ in range(_SPAWNS_PER_SAMPLE):
        start = time.perf_counter()
        if how == "spawn":
            pid = template.spawn()
        else:
            pid = os.fork()
            if pid == 0:  # pragma: no cover - the child
                try:
                    os.execv("/bin/true", ["/bin/true"])
                finally:
                    os._exit(127)
        os.waitpid(pid, 0)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _serve(gigabytes: float) -> None:
    hoard: Any = b"\x01" * int(gigabytes * 2**30)  # bytes: allocated and touched
    print("ready", flush=True)
    for line in sys.stdin:
        print(_time_spawns(line.strip()), flush=True)
    del hoard


if __name__ == "__main__":
    _serve(float(sys.argv[1]))
