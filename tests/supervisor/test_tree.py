"""Trees: open_tree, reports (docs/semantics.md §6, §13), and addresses by path.

``root.child("sub/x")`` names a child by its path in the tree and resolves it to
the child's current incarnation at every send.
"""

from __future__ import annotations

import logging

import pytest

from actors import NORMAL, SHUTDOWN, NoSuchActor, Runtime, Shutdown
from supervisor import (
    ChildNotRunning,
    ChildSpec,
    Restart,
    Supervisor,
    SupervisorHandle,
    open_tree,
)

from .helpers import child, crash, settle, until_exit
from .workers import Log


def nested(log: Log) -> Supervisor:
    sub = Supervisor(intensity=5, children=[child(log, "x"), child(log, "y")])
    return Supervisor(intensity=5, children=[child(log, "a"), ChildSpec("sub", sub)])


async def test_an_address_follows_the_current_incarnation(runtime: Runtime, log: Log) -> None:
    async with open_tree(nested(log), runtime=runtime) as root:
        x = root.child("sub/x")
        assert x.path == "sub/x"
        first = x.whereis()
        await crash(x)
        second = x.whereis()
        assert first is not None
        assert second is not None
        assert first != second
        assert await x.call("ping") == "x"
        assert root.supervisor("sub").child("x").whereis() == second
        assert root.supervisor("sub").ref == root.child("sub").whereis()


async def test_an_address_of_a_stopped_child(runtime: Runtime, log: Log) -> None:
    async with open_tree(nested(log), runtime=runtime) as root:
        await root.terminate_child("a")
        a = root.child("a")
        assert a.whereis() is None
        with pytest.raises(ChildNotRunning):
            await a.call("ping")
        with pytest.raises(NoSuchActor):  # the same error as for a dead ref
            await root.child("nobody").call("ping")
        dead = runtime.statistics().dead_letters
        await a.cast("lost")
        a.send_nowait("lost")
        await root.child("nobody").send("lost")
        assert runtime.statistics().dead_letters == dead + 3


async def test_operations_on_a_nested_supervisor(runtime: Runtime, log: Log) -> None:
    async with open_tree(nested(log), runtime=runtime) as root:
        sub = root.supervisor("sub")
        assert sub.path == "sub"
        await sub.terminate_child("x")
        assert [(i.id, i.ref is not None) for i in await sub.which_children()] == [
            ("x", False),
            ("y", True),
        ]
        await root.terminate_child("sub")
        with pytest.raises(ChildNotRunning):
            await sub.which_children()


@pytest.mark.parametrize("path", ["", "/a", "a/", "/"])
async def test_a_bad_path_is_refused(runtime: Runtime, log: Log, path: str) -> None:
    async with open_tree(nested(log), runtime=runtime) as root:
        with pytest.raises(ValueError, match="child path"):
            root.child(path)


async def test_open_tree_opens_a_runtime_when_none_is_given(log: Log) -> None:
    async with open_tree(nested(log)) as root:
        assert await root.child("sub/y").call("ping") == "y"
    assert log[-3:] == [("stop", "y"), ("stop", "x"), ("stop", "a")]


async def test_item6_open_tree_raises_tree_exited_when_the_root_gives_up(
    runtime: Runtime, log: Log
) -> None:
    """The body learns of it at once: it is cancelled, and the error says why."""
    spec = Supervisor(intensity=0, children=[child(log, "a")])

    async def body(root: SupervisorHandle) -> None:
        await root.child("a").cast("crash")

    reason = await until_exit(spec, runtime, body)
    assert reason == Shutdown("reached_max_restart_intensity")


async def test_item13_reports_carry_stable_fields(
    runtime: Runtime, log: Log, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="supervisor")
    async with open_tree(nested(log), runtime=runtime) as root:
        await crash(root.child("sub/x"))
    records = [r for r in caplog.records if r.name == "supervisor"]
    fields = [(r.supervisor, r.child_id, r.event) for r in records]  # type: ignore[attr-defined]
    assert fields[:3] == [("/", "a", "started"), ("/sub", "x", "started"), ("/sub", "y", "started")]
    assert ("/sub", "x", "exited") in fields
    assert ("/sub", "x", "restarting") in fields
    crashed = next(r for r in records if r.event == "exited")  # type: ignore[attr-defined]
    assert crashed.levelno == logging.ERROR
    assert crashed.exc_info is not None
    assert "crashed on request" in str(crashed.exc_info[1])
    assert crashed.reason.startswith("crash: RuntimeError")  # type: ignore[attr-defined]
    errors = [r for r in records if r.levelno >= logging.ERROR]
    assert errors == [crashed]
    events = {getattr(r, "event", None) for r in records}
    assert events <= {"started", "exited", "restarting", "escalated", "shutdown"}


async def test_item13_normal_and_shutdown_exits_are_not_errors(
    runtime: Runtime, log: Log, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="supervisor")
    spec = Supervisor(
        children=[
            child(log, "t", restart=Restart.TRANSIENT),
            child(log, "u", restart=Restart.TRANSIENT),
        ]
    )
    async with open_tree(spec, runtime=runtime) as root:
        await root.child("t").cast(("exit", NORMAL))
        await root.child("u").cast(("exit", SHUTDOWN))
        await settle()
    exits = [r for r in caplog.records if getattr(r, "event", None) == "exited"]
    assert [r.child_id for r in exits] == ["t", "u"]  # type: ignore[attr-defined]
    assert all(r.levelno == logging.INFO for r in exits)
