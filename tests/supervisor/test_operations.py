"""docs/semantics.md §15, §16 and §17: operations on a running supervisor."""

from __future__ import annotations

import pytest

from actors import Runtime
from supervisor import (
    AlreadyPresent,
    AlreadyStarted,
    Backoff,
    ChildCounts,
    ChildInfo,
    ChildKind,
    ChildNotFound,
    ChildRestarting,
    ChildRunning,
    ChildSpec,
    InvalidSpec,
    NotSupported,
    Restart,
    StartFailed,
    Supervisor,
    open_tree,
)

from .helpers import crash, running
from .workers import Log, Script, Worker


def child(log: Log, name: str, script: Script | None = None, **options: object) -> ChildSpec:
    return ChildSpec(name, Worker, args=(name, log, script), **options)  # type: ignore[arg-type]


async def test_item15_which_children_gives_id_ref_or_restarting_and_kind(
    runtime: Runtime, log: Log
) -> None:
    script = Script(ignore={"i"})
    sub = Supervisor(children=[child(log, "x")])
    backoff = Backoff(minimum=10.0, maximum=10.0)
    spec = Supervisor(
        intensity=5,
        children=[
            child(log, "a"),
            ChildSpec("sub", sub),
            child(log, "i", script),
            child(log, "b", backoff=backoff),
        ],
    )
    async with open_tree(spec, runtime=runtime) as root:
        await crash(root.child("b"))  # waits 10 s to restart
        infos = await root.which_children()
        assert infos == [
            ChildInfo("a", root.child("a").whereis(), False, ChildKind.WORKER),
            ChildInfo("sub", root.child("sub").whereis(), False, ChildKind.SUPERVISOR),
            ChildInfo("i", None, False, ChildKind.WORKER),
            ChildInfo("b", None, True, ChildKind.WORKER),
        ]
        assert all(info.ref is not None for info in infos[:2])
        counts = await root.count_children()
        assert counts == ChildCounts(specs=4, active=2, supervisors=1, workers=3)
        assert await root.supervisor("sub").count_children() == ChildCounts(1, 1, 0, 1)


async def test_item16_start_child_with_an_id_in_use(runtime: Runtime, log: Log) -> None:
    spec = Supervisor(children=[child(log, "a"), child(log, "b")])
    async with open_tree(spec, runtime=runtime) as root:
        with pytest.raises(AlreadyStarted) as started:
            await root.start_child(child(log, "a"))
        assert started.value.ref == root.child("a").whereis()
        assert "already started" in str(started.value)
        await root.terminate_child("b")
        with pytest.raises(AlreadyPresent, match="already present"):
            await root.start_child(child(log, "b"))


async def test_item16_start_child_adds_a_child_last_in_start_order(
    runtime: Runtime, log: Log
) -> None:
    async with open_tree(Supervisor(children=[child(log, "a")]), runtime=runtime) as root:
        ref = await root.start_child(child(log, "b"))
        assert ref is not None
        assert ref == root.child("b").whereis()
        assert [info.id for info in await root.which_children()] == ["a", "b"]
        log.clear()
    assert log == [("stop", "b"), ("stop", "a")]


async def test_item16_start_child_checks_the_spec_and_reports_a_failed_start(
    runtime: Runtime, log: Log
) -> None:
    script = Script(failures={"bad": 1})
    async with open_tree(Supervisor(), runtime=runtime) as root:
        with pytest.raises(InvalidSpec):
            await root.start_child(child(log, "w", shutdown=-1))
        with pytest.raises(StartFailed) as caught:
            await root.start_child(child(log, "bad", script))
        assert caught.value.path == "bad"
        assert await root.which_children() == []
        with pytest.raises(NotSupported):
            await root.start_child("not", "a", "spec")


async def test_item17_terminate_child_keeps_the_spec_and_is_not_a_restart(
    runtime: Runtime, log: Log
) -> None:
    spec = Supervisor(intensity=0, children=[child(log, "a"), child(log, "b")])
    async with open_tree(spec, runtime=runtime) as root:
        for _ in range(3):
            await root.terminate_child("a")
            assert await running(root) == {"a": False, "b": True}
            assert await root.restart_child("a") == root.child("a").whereis()
        assert await running(root) == {"a": True, "b": True}  # intensity 0 and still alive


async def test_item17_terminate_child_drops_a_temporary_child(runtime: Runtime, log: Log) -> None:
    spec = Supervisor(children=[child(log, "t", restart=Restart.TEMPORARY)])
    async with open_tree(spec, runtime=runtime) as root:
        await root.terminate_child("t")
        assert await root.which_children() == []
        with pytest.raises(ChildNotFound):
            await root.terminate_child("t")


async def test_item17_restart_child_only_works_on_a_stopped_child(
    runtime: Runtime, log: Log
) -> None:
    backoff = Backoff(minimum=10.0, maximum=10.0)
    spec = Supervisor(children=[child(log, "a"), child(log, "b", backoff=backoff)])
    async with open_tree(spec, runtime=runtime) as root:
        with pytest.raises(ChildRunning):
            await root.restart_child("a")
        with pytest.raises(ChildNotFound):
            await root.restart_child("nope")
        await crash(root.child("b"))
        with pytest.raises(ChildRestarting):
            await root.restart_child("b")
        await root.terminate_child("a")
        ref = await root.restart_child("a")
        assert ref is not None
        assert runtime.is_alive(ref)


async def test_item17_delete_child_only_works_on_a_stopped_child(
    runtime: Runtime, log: Log
) -> None:
    backoff = Backoff(minimum=10.0, maximum=10.0)
    spec = Supervisor(children=[child(log, "a"), child(log, "b", backoff=backoff)])
    async with open_tree(spec, runtime=runtime) as root:
        with pytest.raises(ChildRunning):
            await root.delete_child("a")
        await crash(root.child("b"))
        with pytest.raises(ChildRestarting):
            await root.delete_child("b")
        await root.terminate_child("a")
        await root.delete_child("a")
        assert [info.id for info in await root.which_children()] == ["b"]
        with pytest.raises(ChildNotFound):
            await root.delete_child("a")
        await root.start_child(child(log, "a"))  # the id is free again
