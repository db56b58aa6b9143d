"""docs/semantics.md §18: significant children and auto_shutdown."""

from __future__ import annotations

from actors import NORMAL, Runtime, Shutdown
from supervisor import (
    AutoShutdown,
    ChildSpec,
    Restart,
    Strategy,
    Supervisor,
    SupervisorHandle,
    open_tree,
)

from .helpers import crash, running, settle, until_exit
from .workers import Log, Numbered, Worker

AUTO = Shutdown("auto_shutdown")


def child(log: Log, name: str, **options: object) -> ChildSpec:
    return ChildSpec(name, Worker, args=(name, log), **options)  # type: ignore[arg-type]


def significant(log: Log, name: str, restart: Restart = Restart.TRANSIENT) -> ChildSpec:
    return child(log, name, restart=restart, significant=True)


async def test_item18_any_significant_stops_when_one_significant_child_ends(
    runtime: Runtime, log: Log
) -> None:
    spec = Supervisor(
        auto_shutdown=AutoShutdown.ANY_SIGNIFICANT,
        children=[child(log, "a"), significant(log, "s1"), significant(log, "s2")],
    )

    async def body(root: SupervisorHandle) -> None:
        await root.child("s1").cast(("exit", NORMAL))

    assert await until_exit(spec, runtime, body) == AUTO
    assert log[-3:] == [("exit", "s1"), ("stop", "s2"), ("stop", "a")]


async def test_item18_a_significant_child_that_is_restarted_does_not_end(
    runtime: Runtime, log: Log
) -> None:
    spec = Supervisor(auto_shutdown=AutoShutdown.ANY_SIGNIFICANT, children=[significant(log, "s")])
    async with open_tree(spec, runtime=runtime) as root:
        await crash(root.child("s"))  # transient + abnormal: restarted, not ended
        assert await running(root) == {"s": True}


async def test_item18_all_significant_stops_when_the_last_one_ends(
    runtime: Runtime, log: Log
) -> None:
    spec = Supervisor(
        auto_shutdown=AutoShutdown.ALL_SIGNIFICANT,
        children=[
            child(log, "a"),
            significant(log, "s1"),
            significant(log, "s2", Restart.TEMPORARY),
        ],
    )

    async def body(root: SupervisorHandle) -> None:
        await root.child("s1").cast(("exit", NORMAL))
        await settle()
        assert await running(root) == {"a": True, "s1": False, "s2": True}
        await root.child("s2").cast("crash")

    assert await until_exit(spec, runtime, body) == AUTO


async def test_item18_terminate_child_never_triggers_auto_shutdown(
    runtime: Runtime, log: Log
) -> None:
    spec = Supervisor(
        auto_shutdown=AutoShutdown.ANY_SIGNIFICANT,
        children=[significant(log, "s1"), significant(log, "s2")],
    )
    async with open_tree(spec, runtime=runtime) as root:
        await root.terminate_child("s1")
        await root.terminate_child("s2")
        await settle()
        assert await running(root) == {"s1": False, "s2": False}


async def test_item18_a_nested_auto_shutdown_is_a_shutdown_exit_for_the_parent(
    runtime: Runtime, log: Log
) -> None:
    """A transient child supervisor that auto-shuts down is not restarted (reason shutdown)."""
    sub = Supervisor(auto_shutdown=AutoShutdown.ANY_SIGNIFICANT, children=[significant(log, "job")])
    spec = Supervisor(children=[child(log, "a"), ChildSpec("sub", sub, restart=Restart.TRANSIENT)])
    async with open_tree(spec, runtime=runtime) as root:
        await root.child("sub/job").cast(("exit", NORMAL))
        await settle()
        assert await running(root) == {"a": True, "sub": False}


async def test_item18_dynamic_all_significant_stops_when_no_child_is_left(
    runtime: Runtime, log: Log
) -> None:
    template = ChildSpec(
        "job", Numbered, args=(log, None), restart=Restart.TEMPORARY, significant=True
    )
    spec = Supervisor(
        strategy=Strategy.SIMPLE_ONE_FOR_ONE,
        auto_shutdown=AutoShutdown.ALL_SIGNIFICANT,
        children=[template],
    )

    async def body(root: SupervisorHandle) -> None:
        first = await root.start_child("j1")
        second = await root.start_child("j2")
        assert first is not None
        assert second is not None
        await first.cast(("exit", NORMAL))
        await settle()
        assert len(await root.which_children()) == 1
        await second.cast(("exit", NORMAL))

    assert await until_exit(spec, runtime, body) == AUTO
