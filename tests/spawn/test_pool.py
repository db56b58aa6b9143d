"""The warm pool with real workers: crashes, protocol errors, recycling, pruning, cancel."""

from __future__ import annotations

import operator
import os
import signal
import sys
import types
from fractions import Fraction
from pathlib import Path

import pytest
import trio

from spawn import (
    EncodeError,
    NotByReference,
    PoolClosed,
    ProtocolError,
    RemoteError,
    WorkerDied,
    function_ref,
    open_pool,
)
from spawn._pool import expired
from tests.leaks import LeakCheck
from tests.spawn import workload
from tests.support import eventually, pid_from_file

DEADLINE = 60
CALL_TIMEOUT = 60


async def test_sigkill_of_a_worker_mid_call_fails_only_that_call(
    tmp_path: Path, leaks: LeakCheck
) -> None:
    """Acceptance: SIGKILL of a worker mid-call; the call, given a 60 s timeout, fails
    long before it with the typed error; the pool answers the next call."""
    marker = tmp_path / "running"
    with trio.fail_after(DEADLINE):
        async with open_pool(max_workers=2) as pool:
            outcome: list[BaseException] = []

            async def doomed_call() -> None:
                with trio.fail_after(CALL_TIMEOUT):
                    try:
                        await pool.run(workload.touch_and_sleep, str(marker), 600)
                    except WorkerDied as exc:
                        outcome.append(exc)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(doomed_call)
                pid = await pid_from_file(marker)
                leaks.watch(pid)
                os.kill(pid, signal.SIGKILL)
            assert len(outcome) == 1
            died = outcome[0]
            assert isinstance(died, WorkerDied)
            assert died.pid == pid
            assert died.returncode == -signal.SIGKILL
            other = await pool.run(workload.pid)
            leaks.watch(other)
            assert other != pid
            assert await pool.run(operator.add, 2, 3) == 5
            assert pool.statistics().died == 1


@pytest.mark.parametrize("kind", ["huge", "undecodable", "truncated", "deep"])
async def test_protocol_garbage_from_a_worker_counts_as_a_crash(
    kind: str, leaks: LeakCheck
) -> None:
    """Acceptance: garbage bytes and a truncated frame give a protocol error and the
    worker is treated as crashed (killed, replaced; only that call fails)."""
    with trio.fail_after(DEADLINE):
        async with open_pool(max_workers=1) as pool:
            pid = await pool.run(workload.pid)
            leaks.watch(pid)
            with pytest.raises(WorkerDied) as info:
                await pool.run(workload.write_garbage, kind)
            assert info.value.pid == pid
            if kind != "truncated":
                assert isinstance(info.value.__cause__, ProtocolError)
            else:  # it wrote a partial frame and exited: EOF inside a frame
                assert isinstance(info.value.__cause__, ProtocolError)
            assert not isinstance(info.value.__cause__, RecursionError)
            assert await pool.run(workload.pid) != pid


async def test_fifty_crash_and_replace_cycles_leak_nothing(leaks: LeakCheck) -> None:
    """Acceptance: after 50 crash-and-replace cycles the parent's fds point at the same
    things as before (by readlink, in the leaks fixture) and no child pid remains."""
    with trio.fail_after(DEADLINE):
        async with open_pool(max_workers=1, spares=1) as pool:
            pids = set()
            for _ in range(50):
                pid = await pool.run(workload.pid)
                leaks.watch(pid)
                with pytest.raises(WorkerDied):
                    await pool.run(workload.die)
                pids.add(pid)
            assert len(pids) == 50
            assert pool.statistics().died == 50


async def test_recycling_after_n_tasks(leaks: LeakCheck) -> None:
    """Acceptance: recycling after N tasks."""
    with trio.fail_after(DEADLINE):
        async with open_pool(max_workers=1, max_tasks=3) as pool:
            pids = []
            for _ in range(7):
                pids.append(await pool.run(workload.pid))
                leaks.watch(pids[-1])
    assert pids[0] == pids[1] == pids[2] != pids[3] == pids[4] == pids[5] != pids[6]
    assert all(leaks.gone(pid) for pid in pids)


async def test_recycling_above_rss(leaks: LeakCheck) -> None:
    """A worker whose RSS passed max_rss is recycled after its call."""
    with trio.fail_after(DEADLINE):
        async with open_pool(max_workers=1, max_rss=64 * 1024 * 1024) as pool:
            first = await pool.run(workload.pid)
            leaks.watch(first)
            assert await pool.run(workload.pid) == first  # small: kept
            assert await pool.run(workload.grow, 96) == first
            second = await pool.run(workload.pid)
            leaks.watch(second)
            assert second != first
            assert pool.statistics().recycled == 1


def test_expired_keeps_the_spares_and_the_recent() -> None:
    assert expired([], 10.0, 1.0, keep=0) == 0
    assert expired([0.0, 1.0, 2.0], 10.0, 5.0, keep=0) == 3
    assert expired([0.0, 1.0, 2.0], 10.0, 5.0, keep=2) == 1
    assert expired([0.0, 8.0, 9.0], 10.0, 5.0, keep=0) == 1
    assert expired([0.0, 1.0], 10.0, 5.0, keep=5) == 0


async def test_idle_pruning(tmp_path: Path, leaks: LeakCheck) -> None:
    """Acceptance: idle pruning. Workers idle past idle_timeout beyond the spares exit."""
    with trio.fail_after(DEADLINE):
        async with open_pool(max_workers=3, spares=0, idle_timeout=0.3) as pool:
            pids = []

            async def call(n: int) -> None:
                pids.append(await pool.run(workload.touch_and_sleep, str(tmp_path / str(n)), 0.5))

            async with trio.open_nursery() as nursery:
                for n in range(2):
                    nursery.start_soon(call, n)
            for pid in pids:
                leaks.watch(pid)
            assert len(set(pids)) == 2
            for pid in pids:
                assert await trio.to_thread.run_sync(leaks.gone, pid)
            assert pool.statistics().pruned == 2
            assert pool.statistics().idle == 0


async def test_cancel_policy_kills_the_worker_and_replaces_it(
    tmp_path: Path, leaks: LeakCheck
) -> None:
    """Acceptance: the cancel policy. A call cancelled while its function runs returns at
    once; its worker is killed (SIGKILL), reaped and replaced."""
    marker = tmp_path / "running"
    with trio.fail_after(DEADLINE):
        async with open_pool(max_workers=1) as pool:
            with trio.CancelScope() as scope:
                async with trio.open_nursery() as nursery:

                    async def cancel_when_running() -> None:
                        pid = await pid_from_file(marker)
                        leaks.watch(pid)
                        scope.cancel()

                    nursery.start_soon(cancel_when_running)
                    await pool.run(workload.touch_and_sleep, str(marker), 600)
            assert scope.cancelled_caught
            pid = int(marker.read_text())
            assert await trio.to_thread.run_sync(leaks.gone, pid)
            replacement = await pool.run(workload.pid)
            leaks.watch(replacement)
            assert replacement != pid


async def test_cancel_with_grace_sends_sigterm_first(tmp_path: Path, leaks: LeakCheck) -> None:
    """With cancel_grace, SIGTERM comes first and SIGKILL after the grace."""
    marker = tmp_path / "running"
    with trio.fail_after(DEADLINE):
        async with open_pool(max_workers=1, cancel_grace=0.5) as pool:
            with trio.move_on_after(1000) as scope:
                async with trio.open_nursery() as nursery:

                    async def cancel_when_running() -> None:
                        leaks.watch(await pid_from_file(marker))
                        scope.cancel()

                    nursery.start_soon(cancel_when_running)
                    await pool.run(workload.ignore_sigterm_and_sleep, str(marker), 600)
            pid = int(marker.read_text())
            assert await trio.to_thread.run_sync(leaks.gone, pid)
            assert await pool.run(operator.add, 1, 1) == 2


async def test_opt_in_pickle_codec(leaks: LeakCheck) -> None:
    """Acceptance: the opt-in codec carries arbitrary objects; msgpack refuses them."""
    with trio.fail_after(DEADLINE):
        async with open_pool(max_workers=1, codec="pickle") as pickled:
            leaks.watch(await pickled.run(workload.pid))
            assert await pickled.run(workload.a_set) == {1, 2}
            assert await pickled.run(workload.a_fraction, 1, 3) == Fraction(1, 3)
            assert await pickled.run(workload.echo, {3}, frozenset({4})) == ({3}, frozenset({4}))
            with pytest.raises(workload.CustomError, match="boom") as info:
                await pickled.run(workload.fail_custom, "boom")
            assert isinstance(info.value.__cause__, RemoteError)
        async with open_pool(max_workers=1) as plain:
            pid = await plain.run(workload.pid)
            leaks.watch(pid)
            with pytest.raises(EncodeError, match="set"):
                await plain.run(workload.echo, {3})  # at the sender
            with pytest.raises(EncodeError, match="cannot be sent"):
                await plain.run(workload.a_set)  # at the worker, which keeps serving
            assert await plain.run(workload.pid) == pid


async def test_codec_errors_name_what_the_user_sent(leaks: LeakCheck) -> None:
    """An argument, a keyword argument, a result: each named, never by its index in
    the request or reply the pool wraps it in; the worker keeps serving."""
    set_reason = "a set is not encodable (send a list or tuple instead)"
    with trio.fail_after(DEADLINE):
        async with open_pool(max_workers=1) as pool:
            pid = await pool.run(workload.pid)
            leaks.watch(pid)
            with pytest.raises(EncodeError) as arg:
                await pool.run(workload.echo, 1, {3})
            assert str(arg.value) == (
                f"the argument 2 of tests.spawn.workload.echo cannot be sent: {set_reason}"
            )
            with pytest.raises(EncodeError) as nested:
                await pool.run(workload.echo, [0, {"k": object()}])
            assert str(nested.value) == (
                "the argument 1 of tests.spawn.workload.echo cannot be sent: "
                "at [1]['k'], an object is not encodable"
            )
            with pytest.raises(EncodeError) as keyword:
                await pool.apply(workload.echo, (), {"key": {3}})
            assert str(keyword.value).startswith(
                "the keyword argument key of tests.spawn.workload.echo cannot be sent: a set"
            )
            with pytest.raises(EncodeError) as result:
                await pool.run(workload.a_set)
            assert str(result.value) == (
                f"the result of tests.spawn.workload.a_set cannot be sent: {set_reason}"
                '; use codec="pickle" or return plain data'
            )
            assert await pool.run(workload.pid) == pid


async def test_a_dead_worker_is_described_by_its_exit(tmp_path: Path, leaks: LeakCheck) -> None:
    """WorkerDied says how the worker ended (a signal, an exit status), not EndOfChannel()."""
    with trio.fail_after(DEADLINE):
        async with open_pool(max_workers=1) as pool:
            leaks.watch(await pool.run(workload.pid))
            with pytest.raises(WorkerDied) as killed:
                await pool.run(workload.die)
            assert str(killed.value).endswith("died during the call: killed by SIGKILL")
            leaks.watch(await pool.run(workload.pid))
            with pytest.raises(WorkerDied) as exited:
                await pool.run(workload.exit_with, 3)
            assert str(exited.value).endswith("died during the call: exit status 3")
            assert "EndOfChannel" not in str(killed.value) + str(exited.value)


async def test_results_and_errors_cross_as_documented(leaks: LeakCheck) -> None:
    with trio.fail_after(DEADLINE):
        async with open_pool(max_workers=1) as pool:
            pid = await pool.run(workload.pid)
            leaks.watch(pid)
            assert await pool.run(workload.echo, 1, (2, (3,)), b"x") == (1, (2, (3,)), b"x")
            assert await pool.apply(workload.echo, (1,), {"k": "v"}) == [[1], {"k": "v"}]
            with pytest.raises(KeyError) as builtin:
                await pool.run(workload.fail_builtin, "missing")
            assert builtin.value.args == ("missing",)
            cause = builtin.value.__cause__
            assert isinstance(cause, RemoteError)
            assert cause.pid == pid
            assert cause.type_name == "builtins.KeyError"
            assert "fail_builtin" in cause.traceback
            with pytest.raises(RemoteError) as custom:
                await pool.run(workload.fail_custom, "boom")
            assert custom.value.type_name == "tests.spawn.workload.CustomError"
            assert custom.value.message == "boom"
            assert await pool.run(workload.pid) == pid


def test_functions_that_cannot_travel_by_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    """A lambda, a local function and a function in __main__ of a script fail at submit
    time with a message naming the fix."""
    with pytest.raises(NotByReference, match="lambda"):
        function_ref(lambda: 0)

    def local() -> None: ...

    class Local:
        def __call__(self) -> None: ...

    with pytest.raises(NotByReference, match="local function"):
        function_ref(local)
    with pytest.raises(NotByReference, match="Local is a local class"):
        function_ref(Local)
    script = types.ModuleType("__main__")
    script.__spec__ = None
    exec("def job():\n    return 1\n", script.__dict__)
    monkeypatch.setitem(sys.modules, "__main__", script)
    with pytest.raises(NotByReference, match="move it into a module"):
        function_ref(script.job)
    assert function_ref(operator.add) == ("_operator", "add")
    assert function_ref(workload.pid) == ("tests.spawn.workload", "pid")


async def test_lease_gives_a_handshaken_worker_and_its_channel(leaks: LeakCheck) -> None:
    """The lease process actors build on: a started worker and its channel, stopped after."""
    with trio.fail_after(DEADLINE):
        async with open_pool(max_workers=2) as pool:
            async with pool.lease() as worker:
                leaks.watch(worker.pid)
                assert pool.statistics().leased == 1
                await worker.channel.send([7, "operator", "mul", [[6, 7], {}]])
                assert await worker.channel.receive() == [7, True, 42]
            assert await trio.to_thread.run_sync(leaks.gone, worker.pid)
            assert await worker.process.wait() == 0  # it exited on end of file
            assert pool.statistics().leased == 0


async def test_closed_pool_refuses_calls_and_stops_everything(leaks: LeakCheck) -> None:
    with trio.fail_after(DEADLINE):
        async with open_pool(max_workers=2, spares=2) as pool:
            pids = [await pool.run(workload.pid)]
            for pid in pids:
                leaks.watch(pid)
        with pytest.raises(PoolClosed):
            await pool.run(workload.pid)
        assert pool.statistics().idle == 0


async def test_a_taken_spare_is_replaced_after_the_refill_delay(
    tmp_path: Path, leaks: LeakCheck
) -> None:
    """The replacement of a taken spare starts ``refill_delay`` later, not while the worker
    just taken does the work it was taken for; then the pool has its spare again (which
    the leaks fixture sees stopped and reaped with the pool)."""
    marker = tmp_path / "working"
    with trio.fail_after(DEADLINE):
        async with open_pool(max_workers=3, spares=1, refill_delay=2.0) as pool:
            assert pool.statistics().idle == 1
            async with pool.lease() as worker:
                leaks.watch(worker.pid)
                job = [[str(marker), 0], {}]
                await worker.channel.send([7, "tests.spawn.workload", "touch_and_sleep", job])
                assert await pid_from_file(marker) == worker.pid  # it works for us now
                stats = pool.statistics()
                assert (stats.idle, stats.starting) == (0, 0)
                assert await worker.channel.receive() == [7, True, worker.pid]

                async def refilled() -> bool:
                    return pool.statistics().idle == 1

                await eventually(refilled, what="a new spare")
                assert pool.statistics().started == 2


@pytest.mark.parametrize("delay", [-0.001, float("nan")])
async def test_a_refill_delay_below_zero_is_refused(delay: float) -> None:
    with pytest.raises(ValueError, match="refill_delay must be >= 0"):
        async with open_pool(max_workers=1, refill_delay=delay):
            pass  # pragma: no cover - the pool does not open
