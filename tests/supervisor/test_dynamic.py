"""docs/semantics.md §10: the dynamic (simple_one_for_one) supervisor."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing

from actors import Actor, Caller, CallResult, InfoResult, NoReply, Reply, Runtime, Shutdown
from supervisor import (
    BRUTAL_KILL,
    ChildCounts,
    ChildKind,
    ChildNotFound,
    ChildSpec,
    NotSupported,
    Restart,
    StartFailed,
    Strategy,
    Supervisor,
    SupervisorHandle,
    open_tree,
)
from supervisor._protocol import Failed
from supervisor._server import StartSoon

from .helpers import settle, until_exit
from .workers import Log, Numbered, Script

ESCALATED = Shutdown("reached_max_restart_intensity")


def dynamic(log: Log, script: Script, **options: object) -> Supervisor:
    template = ChildSpec("worker", Numbered, args=(log, script), **options)  # type: ignore[arg-type]
    return Supervisor(strategy=Strategy.SIMPLE_ONE_FOR_ONE, intensity=5, children=[template])


async def test_item10_no_children_at_start_and_start_child_adds_one(
    runtime: Runtime, log: Log
) -> None:
    async with open_tree(dynamic(log, Script()), runtime=runtime) as root:
        assert await root.which_children() == []
        ref = await root.start_child("w1")
        assert ref is not None
        assert runtime.is_alive(ref)
        assert log == [("start", "w1")]
        [info] = await root.which_children()
        assert (info.id, info.ref, info.restarting, info.kind) == (
            None,
            ref,
            False,
            ChildKind.WORKER,
        )
        assert await root.count_children() == ChildCounts(
            specs=1, active=1, supervisors=0, workers=1
        )


async def test_item10_a_crashed_dynamic_child_restarts_with_its_arguments(
    runtime: Runtime, log: Log
) -> None:
    async with open_tree(dynamic(log, Script()), runtime=runtime) as root:
        ref = await root.start_child("w1")
        assert ref is not None
        await ref.cast("crash")
        await settle()
        [info] = await root.which_children()
        assert info.ref is not None
        assert info.ref != ref
        assert log == [("start", "w1"), ("exit", "w1"), ("start", "w1")]


async def test_item10_terminate_child_takes_a_ref_and_ids_are_refused(
    runtime: Runtime, log: Log
) -> None:
    async with open_tree(dynamic(log, Script()), runtime=runtime) as root:
        ref = await root.start_child("w1")
        assert ref is not None
        with pytest.raises(NotSupported):
            await root.terminate_child("worker")
        with pytest.raises(NotSupported):
            await root.restart_child("worker")
        with pytest.raises(NotSupported):
            await root.delete_child("worker")
        await root.terminate_child(ref)
        assert await root.which_children() == []
        with pytest.raises(ChildNotFound):
            await root.terminate_child(ref)


async def test_item10_a_failed_start_is_an_error_and_records_nothing(
    runtime: Runtime, log: Log
) -> None:
    script = Script(failures={"bad": 1})
    async with open_tree(dynamic(log, script), runtime=runtime) as root:
        with pytest.raises(StartFailed) as caught:
            await root.start_child("bad")
        assert caught.value.path == "worker"
        assert await root.which_children() == []


async def test_item10_1000_dynamic_children_start_and_stop_concurrently_under_one_deadline(
    runtime: Runtime, log: Log, autojump_clock: trio.testing.MockClock
) -> None:
    names = [f"w{i}" for i in range(1000)]
    script = Script(slow_stop=dict.fromkeys(names, 3600.0))
    async with open_tree(dynamic(log, script, shutdown=2.0), runtime=runtime) as root:
        for name in names:
            await root.start_child(name)
        counts = await root.count_children()
        assert (counts.active, counts.workers) == (1000, 1000)
        assert runtime.statistics().actors == 1002  # the root, its watcher, the children
        started = trio.current_time()
    assert trio.current_time() - started == 2.0  # one deadline for all, not 1000 of them
    assert runtime.statistics().actors == 0


async def test_item10_children_that_stop_in_time_are_stopped_gracefully(
    runtime: Runtime, log: Log
) -> None:
    async with open_tree(dynamic(log, Script()), runtime=runtime) as root:
        for name in ("a", "b", "c"):
            await root.start_child(name)
        log.clear()
    assert sorted(log) == [("stop", "a"), ("stop", "b"), ("stop", "c")]


async def test_item10_brutal_kill_applies_to_every_dynamic_child(
    runtime: Runtime, log: Log
) -> None:
    async with open_tree(dynamic(log, Script(), shutdown=BRUTAL_KILL), runtime=runtime) as root:
        for name in ("a", "b"):
            await root.start_child(name)
        log.clear()
    assert log == []


async def test_item10_dynamic_restarts_count_toward_intensity(runtime: Runtime, log: Log) -> None:
    async def body(root: SupervisorHandle) -> None:
        refs = [await root.start_child(f"w{i}") for i in range(6)]
        for ref in refs:
            assert ref is not None
            await ref.cast("crash")

    assert await until_exit(dynamic(log, Script()), runtime, body) == ESCALATED


async def test_item10_temporary_dynamic_children_are_forgotten_when_they_exit(
    runtime: Runtime, log: Log
) -> None:
    spec = dynamic(log, Script(), restart=Restart.TEMPORARY)
    async with open_tree(spec, runtime=runtime) as root:
        ref = await root.start_child("t")
        assert ref is not None
        await ref.cast("crash")
        await settle()
        assert await root.which_children() == []


async def test_a_start_sent_as_a_message_answers_only_a_failure(runtime: Runtime, log: Log) -> None:
    """StartSoon (the listener's start of a connection child): no reply; Failed on failure."""

    class Inbox(Actor):
        async def init(self) -> None:
            self.got: list[Any] = []

        async def handle_info(self, message: Any) -> InfoResult:
            self.got.append(message)
            return NoReply()

        async def handle_call(self, request: Any, caller: Caller) -> CallResult:
            return Reply(list(self.got))

    async with open_tree(dynamic(log, Script(failures={"bad": 1})), runtime=runtime) as root:
        inbox = await runtime.spawn(Inbox)
        supervisor = root.ref
        assert supervisor is not None
        supervisor.send_nowait(StartSoon(("good",), inbox))
        supervisor.send_nowait(StartSoon(("bad",), inbox))
        await settle()
        assert log == [("start", "good")]
        assert (await root.count_children()).active == 1
        [failed] = await inbox.call("got")
        assert isinstance(failed, Failed)
        assert isinstance(failed.error, StartFailed)
        await runtime.stop(inbox)
