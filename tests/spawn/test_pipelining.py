"""Pipelined calls (``Pool.submit``): several in flight per worker, with the pool's promises.

Every test submits its jobs in one ``submit`` call, so they are queued together
and the first worker takes them as one batch (a fresh pool starts at the full
depth); ``statistics().queued`` shows when they have all been sent.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import trio
import trio.lowlevel

from spawn import InitializerError, Job, PoolClosed, WorkerDied, function_ref, open_pool
from tests.leaks import LeakCheck
from tests.spawn import workload
from tests.support import pid_from_file

DEADLINE = 60


class Call(Job):
    """A job that records whether it was claimed, its outcome and when it finished."""

    def __init__(
        self, log: list[Call], fn: Callable[..., object], *args: object, wanted: bool = True
    ) -> None:
        super().__init__(function_ref(fn), args, {})
        self.log = log
        self.wanted = wanted
        self.claimed = False
        self.outcome: object = None
        self.finished = trio.Event()

    def claim(self) -> bool:
        self.claimed = True
        return self.wanted

    def set_result(self, value: object) -> None:
        self._done(value)

    def set_exception(self, exc: BaseException) -> None:
        self._done(exc)

    def _done(self, outcome: object) -> None:
        assert not self.finished.is_set(), "a job finished twice"
        self.outcome = outcome
        self.log.append(self)
        self.finished.set()


async def test_calls_queued_behind_a_killed_call_run_on_another_worker(
    tmp_path: Path, leaks: LeakCheck
) -> None:
    """The worker dies mid-call with five calls pipelined behind it: the running call
    fails with WorkerDied, the five never started and complete on a new worker, in order."""
    marker = tmp_path / "running"
    log: list[Call] = []
    with trio.fail_after(DEADLINE):
        async with open_pool(max_workers=1) as pool:
            doomed = Call(log, workload.touch_and_sleep, str(marker), 600)
            behind = [Call(log, workload.pid) for _ in range(5)]
            pool.submit(doomed, *behind)
            pid = await pid_from_file(marker)
            leaks.watch(pid)
            assert pool.statistics().queued == 0  # all six are on the worker
            os.kill(pid, signal.SIGKILL)
            for call in behind:
                await call.finished.wait()
            assert isinstance(doomed.outcome, WorkerDied)
            assert doomed.outcome.pid == pid
            assert doomed.outcome.returncode == -signal.SIGKILL
            assert log == [doomed, *behind]
            pids = {call.outcome for call in behind}
            assert len(pids) == 1
            (other,) = pids
            assert isinstance(other, int)
            leaks.watch(other)
            assert other != pid
            assert pool.statistics().died == 1


async def test_a_job_withdrawn_at_its_claim_never_runs(tmp_path: Path, leaks: LeakCheck) -> None:
    log: list[Call] = []
    markers = [tmp_path / name for name in "abc"]
    with trio.fail_after(DEADLINE):
        async with open_pool(max_workers=1) as pool:
            calls = [
                Call(log, workload.touch_and_sleep, str(marker), 0, wanted=wanted)
                for marker, wanted in zip(markers, [True, False, True], strict=True)
            ]
            pool.submit(*calls)
            await calls[2].finished.wait()
            leaks.watch(int(markers[0].read_text()))
            assert log == [calls[0], calls[2]]
            assert calls[1].claimed
            assert not calls[1].finished.is_set()
            assert not markers[1].exists()
            assert markers[2].exists()


async def test_recycling_counts_the_calls_a_worker_ran(leaks: LeakCheck) -> None:
    log: list[Call] = []
    with trio.fail_after(DEADLINE):
        async with open_pool(max_workers=1, max_tasks=3) as pool:
            calls = [Call(log, workload.pid) for _ in range(7)]
            pool.submit(*calls)
            await calls[-1].finished.wait()
            pids = [call.outcome for call in calls]
            assert all(isinstance(pid, int) for pid in pids)  # the fixture checks they are gone
            assert pids[0] == pids[1] == pids[2] != pids[3] == pids[4] == pids[5] != pids[6]
            assert pool.statistics().recycled >= 2


async def test_a_failing_initializer_fails_each_call_with_initializer_error(
    leaks: LeakCheck,
) -> None:
    """Each worker answers its first call with the error and exits: the calls pipelined
    behind it never ran, so they go to the next worker rather than fail as WorkerDied."""
    log: list[Call] = []
    with trio.fail_after(DEADLINE):
        async with open_pool(
            max_workers=1, spares=0, initializer=workload.fail_builtin, initargs=("init",)
        ) as pool:
            calls = [Call(log, workload.pid) for _ in range(3)]
            pool.submit(*calls)
            await calls[-1].finished.wait()
            assert all(isinstance(call.outcome, InitializerError) for call in calls)
            assert pool.statistics().died == 0
            assert pool.statistics().started == 3


async def test_closing_fails_calls_in_flight_and_queued(tmp_path: Path, leaks: LeakCheck) -> None:
    marker = tmp_path / "running"
    log: list[Call] = []
    with trio.fail_after(DEADLINE):
        async with open_pool(max_workers=1, max_tasks=1, stop_timeout=1) as pool:
            running = Call(log, workload.touch_and_sleep, str(marker), 600)
            queued = [Call(log, workload.pid) for _ in range(3)]
            pool.submit(running, *queued)
            leaks.watch(await pid_from_file(marker))
            assert pool.statistics().queued == 3  # max_tasks=1: one call per worker
    assert log == [*queued, running] or log == [running, *queued]
    assert all(isinstance(call.outcome, PoolClosed) for call in log)
    assert all(call.claimed for call in queued)


async def test_a_run_call_waiting_for_a_worker_gets_one_before_the_queue_drains(
    leaks: LeakCheck,
) -> None:
    """Pipelined calls yield their worker to a run() caller once those in flight return."""
    log: list[Call] = []
    with trio.fail_after(DEADLINE):
        async with open_pool(max_workers=1) as pool:
            calls = [Call(log, time.sleep, 0.01) for _ in range(200)]
            pool.submit(*calls)
            await trio.lowlevel.checkpoint()
            leaks.watch(await pool.run(workload.pid))
            assert len(log) < len(calls)
            await calls[-1].finished.wait()
            assert log == calls
            assert all(call.outcome is None for call in calls)
