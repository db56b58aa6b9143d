"""docs/semantics.md §19 and §20: call, cast, and what handlers may return."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import trio
import trio.testing

from actors import (
    KILLED,
    NORMAL,
    Actor,
    ActorError,
    ActorExited,
    ActorRef,
    Caller,
    CallTimeout,
    CallToSelf,
    Crash,
    Ignore,
    InitError,
    InvalidReturn,
    NoSuchActor,
    Reply,
    Runtime,
    Shutdown,
    StartIgnored,
    open_runtime,
)

from .probe import Probe, stop_all


async def test_item19_call_times_out_after_the_default_5_seconds(
    runtime: Runtime, autojump_clock: trio.testing.MockClock
) -> None:
    probe = await runtime.spawn(Probe)
    start = trio.current_time()
    with pytest.raises(CallTimeout):
        await probe.call("hold")
    assert trio.current_time() - start == pytest.approx(5.0)
    await stop_all(runtime, probe)


async def test_item19_a_late_reply_is_dropped_not_given_to_the_next_call(
    runtime: Runtime, autojump_clock: trio.testing.MockClock
) -> None:
    probe = await runtime.spawn(Probe)
    with pytest.raises(CallTimeout):
        await probe.call("hold", timeout=1)
    # The probe now answers the abandoned call; the new call must get its own reply.
    assert await probe.call(("release", "late")) == "released"
    assert await probe.call(("echo", "mine")) == "mine"
    await stop_all(runtime, probe)


async def test_item19_a_call_fails_at_once_with_the_crash_reason(
    runtime: Runtime, autojump_clock: trio.testing.MockClock
) -> None:
    probe = await runtime.spawn(Probe)
    start = trio.current_time()
    with pytest.raises(ActorExited) as info:
        await probe.call(("crash", "boom"), timeout=60)
    assert trio.current_time() == start, "the caller waited instead of failing at once"
    assert isinstance(info.value.reason, Crash)
    assert str(info.value.reason.exc) == "boom"


async def test_item19_a_call_pending_when_the_actor_is_killed_fails_at_once(
    runtime: Runtime, autojump_clock: trio.testing.MockClock
) -> None:
    probe = await runtime.spawn(Probe)
    errors: list[BaseException] = []

    async def caller() -> None:
        try:
            await probe.call("hold", timeout=60)
        except ActorExited as exc:
            errors.append(exc)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(caller)
        await trio.testing.wait_all_tasks_blocked()
        start = trio.current_time()
        runtime.kill(probe)
    assert trio.current_time() == start
    assert [e.reason for e in errors if isinstance(e, ActorExited)] == [KILLED]


async def test_item19_a_call_to_a_dead_actor_fails_at_once(runtime: Runtime) -> None:
    probe = await runtime.spawn(Probe)
    await runtime.stop(probe)
    with pytest.raises(NoSuchActor):
        await probe.call(("echo", 1))


async def test_item19_cast_and_send_to_a_dead_actor_are_dropped_and_counted(
    runtime: Runtime,
) -> None:
    probe = await runtime.spawn(Probe)
    await runtime.stop(probe)
    before = runtime.statistics().dead_letters
    await probe.cast("lost")
    probe.cast_nowait("lost")
    await probe.send("lost")
    probe.send_nowait("lost")
    assert runtime.statistics().dead_letters == before + 4


async def test_item19_a_call_to_itself_fails_instead_of_timing_out() -> None:
    class Selfish(Actor):
        async def handle_call(self, request: Any, caller: Caller) -> Reply:
            if request == "self":
                try:
                    await self.ref.call("other")
                except CallToSelf:
                    return Reply("refused")
            return Reply("other")

    async with open_runtime() as runtime:
        ref = await runtime.spawn(Selfish)
        assert await ref.call("self") == "refused"


async def test_item20_init_may_decline_to_start(runtime: Runtime) -> None:
    class Declines(Actor):
        async def init(self) -> Ignore:
            return Ignore()

    with pytest.raises(StartIgnored):
        await runtime.spawn(Declines)
    assert runtime.statistics().actors == 0


async def test_item20_init_that_raises_fails_spawn_with_the_cause(runtime: Runtime) -> None:
    log: list[Any] = []

    class Fails(Probe):
        async def init(self, trap: bool = False, log: list[Any] | ActorRef | None = None) -> None:
            await super().init(trap, log)
            raise OSError("no disk")

    with pytest.raises(InitError, match="no disk") as info:
        await runtime.spawn(Fails, False, log)
    assert isinstance(info.value.__cause__, OSError)
    assert log == [], "terminate ran although init failed"
    assert runtime.statistics().actors == 0


async def test_item20_no_reply_then_an_explicit_reply(runtime: Runtime) -> None:
    probe = await runtime.spawn(Probe)
    async with trio.open_nursery() as nursery:
        answers: list[Any] = []

        async def hold() -> None:
            answers.append(await probe.call("hold"))

        nursery.start_soon(hold)
        await trio.testing.wait_all_tasks_blocked()
        assert answers == []
        assert await probe.call(("release", "later")) == "released"
    assert answers == ["later"]
    await stop_all(runtime, probe)


async def test_item20_stop_replies_then_stops_with_its_reason(runtime: Runtime) -> None:
    log: list[Any] = []
    probe = await runtime.spawn(Probe, False, log)
    watch = runtime.watch(probe)
    assert await probe.call(("stop", Shutdown("done"))) == "bye"
    assert await watch.wait() == Shutdown("done")
    assert log == [(probe, Shutdown("done"))]


async def test_item20_a_handler_returning_none_crashes_naming_the_handler(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    probe = await runtime.spawn(Probe)
    with pytest.raises(ActorExited) as info:
        await probe.call("none")
    reason = info.value.reason
    assert isinstance(reason, Crash)
    assert isinstance(reason.exc, InvalidReturn)
    assert "Probe.handle_call returned None" in str(reason.exc)
    assert any(r.levelno == logging.ERROR and "crashed" in r.message for r in caplog.records)


async def test_item20_a_cast_handler_returning_none_crashes(runtime: Runtime) -> None:
    class Sloppy(Actor):
        async def handle_cast(self, message: Any) -> Any:
            return None

    ref = await runtime.spawn(Sloppy)
    watch = runtime.watch(ref)
    await ref.cast("x")
    reason = await watch.wait()
    assert isinstance(reason, Crash)
    assert "Sloppy.handle_cast returned None" in str(reason.exc)


async def test_item20_a_raising_handler_crashes_the_actor(runtime: Runtime) -> None:
    log: list[Any] = []
    probe = await runtime.spawn(Probe, False, log)
    watch = runtime.watch(probe)
    await probe.cast("crash")
    reason = await watch.wait()
    assert isinstance(reason, Crash)
    assert isinstance(reason.exc, ValueError)
    assert log == [(probe, reason)], "terminate must run after a crash"


async def test_item13_terminate_runs_on_stop_but_not_on_kill(runtime: Runtime) -> None:
    log: list[Any] = []
    stopped = await runtime.spawn(Probe, False, log)
    killed = await runtime.spawn(Probe, False, log)
    assert await runtime.stop(stopped) == Shutdown()
    runtime.kill(killed)
    assert await runtime.wait(killed) == KILLED
    assert log == [(stopped, Shutdown())]


async def test_item13_stop_kills_a_hung_terminate_at_its_deadline(
    autojump_clock: trio.testing.MockClock,
) -> None:
    class Hangs(Actor):
        async def terminate(self, reason: Any) -> None:
            await trio.sleep_forever()

    async with open_runtime() as runtime:
        ref = await runtime.spawn(Hangs)
        start = trio.current_time()
        assert await runtime.stop(ref, timeout=2.0) == KILLED
        assert trio.current_time() - start == pytest.approx(2.0)


async def test_a_shutdown_is_not_logged_as_an_error(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    probe = await runtime.spawn(Probe)
    await runtime.stop(probe)
    other = await runtime.spawn(Probe)
    watch = runtime.watch(other)
    assert await other.call(("stop", NORMAL)) == "bye"
    assert await watch.wait() == NORMAL
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_item19_timeouts_hold_after_thousands_of_answered_calls(
    runtime: Runtime, autojump_clock: trio.testing.MockClock
) -> None:
    probe = await runtime.spawn(Probe)
    for i in range(3000):  # each leaves a stale deadline behind
        assert await probe.call(("echo", i)) == i
    start = trio.current_time()
    with pytest.raises(CallTimeout):
        await probe.call("hold", timeout=1.5)
    assert trio.current_time() - start == pytest.approx(1.5)
    await stop_all(runtime, probe)


async def test_item19_a_shorter_timeout_behind_a_longer_one_fires_first(
    runtime: Runtime, autojump_clock: trio.testing.MockClock
) -> None:
    slow = await runtime.spawn(Probe)
    fast = await runtime.spawn(Probe)
    fired: list[tuple[str, float]] = []

    async def call(name: str, ref: Any, timeout: float) -> None:
        start = trio.current_time()
        with pytest.raises(CallTimeout):
            await ref.call("hold", timeout=timeout)
        fired.append((name, trio.current_time() - start))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(call, "long", slow, 10.0)
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(call, "short", fast, 1.0)
    assert [name for name, _ in fired] == ["short", "long"]
    assert [elapsed for _, elapsed in fired] == pytest.approx([1.0, 10.0])
    await stop_all(runtime, slow, fast)


async def test_item19_a_cancelled_call_leaves_nothing_pending(
    runtime: Runtime, autojump_clock: trio.testing.MockClock
) -> None:
    probe = await runtime.spawn(Probe)
    with trio.move_on_after(1):
        await probe.call("hold", timeout=60)
    # The abandoned call must not time out later into anyone's face, nor be answered.
    await trio.sleep(120)
    assert await probe.call(("release", "nobody")) == "released"
    assert await probe.call(("echo", 1)) == 1
    await stop_all(runtime, probe)


async def test_a_child_whose_spawner_stopped_during_its_init_exits_instead_of_hanging(
    autojump_clock: trio.testing.MockClock,
) -> None:
    release = trio.Event()
    born: list[Any] = []

    class Child(Actor):
        async def init(self) -> None:
            with trio.CancelScope(shield=True):  # init ends although its spawner stops
                await release.wait()
            born.append(self.ref)

    class Spawner(Actor):
        async def handle_call(self, request: Any, caller: Caller) -> Reply:
            return Reply(await self.spawn(Child, link=True))

    async with open_runtime() as runtime:
        spawner = await runtime.spawn(Spawner)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_quietly, spawner.call("spawn", timeout=None))
            await trio.testing.wait_all_tasks_blocked()
            nursery.start_soon(runtime.stop, spawner)
            await trio.testing.wait_all_tasks_blocked()
            release.set()
            with trio.fail_after(60):
                await runtime.wait(spawner)
        assert len(born) == 1
        assert not runtime.is_alive(born[0])
        assert runtime.statistics().actors == 0


async def _quietly(call: Any) -> None:
    try:
        await call
    except ActorError:
        pass


async def test_a_cancelled_spawn_interrupts_init_and_leaves_no_actor(
    autojump_clock: trio.testing.MockClock,
) -> None:
    entered: list[str] = []

    class Slow(Actor):
        async def init(self, label: str) -> None:
            entered.append(label)
            await trio.sleep_forever()

    async with open_runtime() as runtime:
        with trio.move_on_after(1) as waited:  # cancelled while init waits
            await runtime.spawn(Slow, "waiting")
        assert waited.cancelled_caught
        with trio.CancelScope() as scope:  # cancelled before the actor's task first ran
            scope.cancel()
            await runtime.spawn(Slow, "never")
        assert scope.cancelled_caught
        assert entered[0] == "waiting"
        assert runtime.statistics().actors == 0
        assert runtime.statistics().tasks == 0
