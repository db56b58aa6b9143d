"""docs/semantics.md §5 to §9: restart types, intensity, strategies, retried restarts."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from actors import NORMAL, SHUTDOWN, Runtime, Shutdown
from supervisor import ChildSpec, Restart, Strategy, Supervisor, SupervisorHandle, open_tree

from .helpers import crash, running, settle, until_exit
from .workers import Log, Script, Worker

ESCALATED = Shutdown("reached_max_restart_intensity")


def child(log: Log, name: str, script: Script | None = None, **options: object) -> ChildSpec:
    return ChildSpec(name, Worker, args=(name, log, script), **options)  # type: ignore[arg-type]


def tree(log: Log, *names: str, script: Script | None = None, **flags: object) -> Supervisor:
    return Supervisor(children=[child(log, n, script) for n in names], **flags)  # type: ignore[arg-type]


# -- §5: restart types -----------------------------------------------------------------


@pytest.mark.parametrize("how", ["crash", "normal", "shutdown"])
async def test_item5_a_permanent_child_is_always_restarted(
    runtime: Runtime, log: Log, how: str
) -> None:
    async with open_tree(tree(log, "p", intensity=5), runtime=runtime) as root:
        before = root.child("p").whereis()
        await exit_child(root.child("p"), how)
        after = root.child("p").whereis()
        assert after is not None
        assert after != before
        assert log[-1] == ("start", "p")


@pytest.mark.parametrize(
    ("how", "restarted"), [("crash", True), ("normal", False), ("shutdown", False)]
)
async def test_item5_a_transient_child_is_restarted_only_after_an_abnormal_exit(
    runtime: Runtime, log: Log, how: str, restarted: bool
) -> None:
    spec = Supervisor(children=[child(log, "t", restart=Restart.TRANSIENT)])
    async with open_tree(spec, runtime=runtime) as root:
        await exit_child(root.child("t"), how)
        assert await running(root) == {"t": restarted}


@pytest.mark.parametrize("how", ["crash", "normal", "shutdown"])
async def test_item5_a_temporary_child_is_never_restarted_and_its_spec_is_dropped(
    runtime: Runtime, log: Log, how: str
) -> None:
    spec = Supervisor(children=[child(log, "a"), child(log, "t", restart=Restart.TEMPORARY)])
    async with open_tree(spec, runtime=runtime) as root:
        await exit_child(root.child("t"), how)
        assert await running(root) == {"a": True}
        assert log.count(("start", "t")) == 1


async def exit_child(address: object, how: str) -> None:
    from supervisor import ChildAddress

    assert isinstance(address, ChildAddress)
    match how:
        case "crash":
            await address.cast("crash")
        case "normal":
            await address.cast(("exit", NORMAL))
        case "shutdown":
            await address.cast(("exit", SHUTDOWN))
    await settle()


# -- §6: intensity and escalation ------------------------------------------------------


async def test_item6_with_default_flags_the_second_restart_within_5s_escalates(
    runtime: Runtime, log: Log, autojump_clock: trio.testing.MockClock
) -> None:
    async def body(root: SupervisorHandle) -> None:
        await crash(root.child("b"))
        assert await running(root) == {"a": True, "b": True, "c": True}
        await trio.sleep(4.9)
        log.clear()
        await crash(root.child("b"))

    assert await until_exit(tree(log, "a", "b", "c"), runtime, body) == ESCALATED
    # b is not restarted; the rest stop in reverse start order
    assert log == [("exit", "b"), ("stop", "c"), ("stop", "a")]


async def test_item6_with_intensity_0_the_first_restart_escalates(
    runtime: Runtime, log: Log
) -> None:
    async def body(root: SupervisorHandle) -> None:
        await crash(root.child("a"))

    assert await until_exit(tree(log, "a", "b", intensity=0), runtime, body) == ESCALATED
    assert log == [("start", "a"), ("start", "b"), ("exit", "a"), ("stop", "b")]


async def test_item6_a_restart_exactly_period_after_an_earlier_one_counts(
    runtime: Runtime, log: Log, autojump_clock: trio.testing.MockClock
) -> None:
    """As supervisor.erl: an entry exactly ``period`` old is still in the window."""
    first = trio.current_time()

    async def body(root: SupervisorHandle) -> None:
        await crash(root.child("a"))
        assert trio.current_time() == first
        await trio.sleep_until(first + 5)
        await crash(root.child("a"))

    assert await until_exit(tree(log, "a", period=5), runtime, body) == ESCALATED
    assert trio.current_time() == first + 5


async def test_item6_a_restart_just_over_period_later_does_not_escalate(
    runtime: Runtime, log: Log, autojump_clock: trio.testing.MockClock
) -> None:
    async with open_tree(tree(log, "a", period=5), runtime=runtime) as root:
        for _ in range(3):
            await crash(root.child("a"))
            await trio.sleep(5.001)
        assert await running(root) == {"a": True}
        assert log.count(("start", "a")) == 4


async def test_item6_restarts_count_across_the_supervisor(
    runtime: Runtime, log: Log, autojump_clock: trio.testing.MockClock
) -> None:
    """Two different children each restarted once: two restarts of one supervisor."""

    async def body(root: SupervisorHandle) -> None:
        await crash(root.child("a"))
        await trio.sleep(1)
        await crash(root.child("b"))

    assert await until_exit(tree(log, "a", "b"), runtime, body) == ESCALATED


async def test_item6_escalation_is_seen_and_handled_by_the_parent(
    runtime: Runtime, log: Log
) -> None:
    """The child supervisor exits with reason shutdown; its permanent spec restarts it."""
    sub = tree(log, "x", "y", intensity=0)
    spec = Supervisor(children=[child(log, "a"), ChildSpec("sub", sub), child(log, "b")])
    async with open_tree(spec, runtime=runtime) as root:
        old_sub = root.child("sub").whereis()
        log.clear()
        await crash(root.child("sub/x"))
        assert log == [("exit", "x"), ("stop", "y"), ("start", "x"), ("start", "y")]
        new_sub = root.child("sub").whereis()
        assert new_sub is not None
        assert new_sub != old_sub
        assert await running(root) == {"a": True, "sub": True, "b": True}
        assert await root.child("sub/x").call("ping") == "x"


# -- §7 and §8: strategies -------------------------------------------------------------


async def test_item7_one_restart_event_counts_once_under_one_for_all(
    runtime: Runtime, log: Log
) -> None:
    spec = tree(log, "a", "b", "c", strategy=Strategy.ONE_FOR_ALL, intensity=1)
    async with open_tree(spec, runtime=runtime) as root:
        await crash(root.child("b"))
        assert await running(root) == {"a": True, "b": True, "c": True}
        assert log.count(("start", "a")) == 2


async def test_item8_one_for_all_stops_the_others_in_reverse_then_starts_all_in_order(
    runtime: Runtime, log: Log
) -> None:
    spec = tree(log, "a", "b", "c", "d", strategy=Strategy.ONE_FOR_ALL)
    async with open_tree(spec, runtime=runtime) as root:
        log.clear()
        await crash(root.child("b"))
        assert log == [
            ("exit", "b"),
            ("stop", "d"),
            ("stop", "c"),
            ("stop", "a"),
            ("start", "a"),
            ("start", "b"),
            ("start", "c"),
            ("start", "d"),
        ]


async def test_item8_rest_for_one_restarts_exactly_the_failed_child_and_those_after_it(
    runtime: Runtime, log: Log
) -> None:
    spec = tree(log, "a", "b", "c", "d", strategy=Strategy.REST_FOR_ONE)
    async with open_tree(spec, runtime=runtime) as root:
        a_before = root.child("a").whereis()
        log.clear()
        await crash(root.child("b"))
        assert log == [
            ("exit", "b"),
            ("stop", "d"),
            ("stop", "c"),
            ("start", "b"),
            ("start", "c"),
            ("start", "d"),
        ]
        assert root.child("a").whereis() == a_before


@pytest.mark.parametrize("strategy", [Strategy.ONE_FOR_ALL, Strategy.REST_FOR_ONE])
async def test_item8_a_temporary_sibling_is_dropped_not_restarted(
    runtime: Runtime, log: Log, strategy: Strategy
) -> None:
    spec = Supervisor(
        strategy=strategy,
        children=[child(log, "a"), child(log, "t", restart=Restart.TEMPORARY), child(log, "c")],
    )
    async with open_tree(spec, runtime=runtime) as root:
        log.clear()
        await crash(root.child("a"))
        assert log == [("exit", "a"), ("stop", "c"), ("stop", "t"), ("start", "a"), ("start", "c")]
        assert await running(root) == {"a": True, "c": True}


# -- §9: a restart that fails is retried -----------------------------------------------


async def test_item9_a_failed_restart_is_retried_and_each_retry_counts(
    runtime: Runtime, log: Log
) -> None:
    script = Script()
    spec = tree(log, "a", script=script, intensity=3)
    async with open_tree(spec, runtime=runtime) as root:
        script.failures["a"] = 2  # the restart and its first retry fail; the second retry works
        await crash(root.child("a"))
        assert await running(root) == {"a": True}

    async def body(root: SupervisorHandle) -> None:
        script.failures["a"] = 3  # 1 restart + 3 retries = 4 restarts > intensity 3
        await crash(root.child("a"))

    assert await until_exit(spec, runtime, body) == ESCALATED


async def test_item9_the_supervisor_answers_requests_while_a_restart_is_retried(
    runtime: Runtime, log: Log
) -> None:
    script = Script()
    spec = tree(log, "a", "b", script=script, intensity=1_000_000)
    async with open_tree(spec, runtime=runtime) as root:
        script.failures["a"] = 10**9  # never starts again
        await root.child("a").cast("crash")
        for _ in range(100):  # each call is answered between two retries
            infos = {info.id: info for info in await root.which_children()}
            if infos["a"].restarting:
                break
        assert infos["a"].restarting
        assert infos["a"].ref is None
        assert infos["b"].ref is not None
        await root.terminate_child("a")  # stops the retries
        assert await running(root) == {"a": False, "b": True}
        await settle()
        assert not (await root.which_children())[0].restarting


async def test_item9_a_failed_rest_for_one_restart_is_retried_from_the_failed_child(
    runtime: Runtime, log: Log
) -> None:
    script = Script()
    spec = tree(log, "a", "b", "c", script=script, strategy=Strategy.REST_FOR_ONE, intensity=2)
    async with open_tree(spec, runtime=runtime) as root:
        log.clear()
        script.failures["c"] = 1
        await crash(root.child("b"))
        assert log == [("exit", "b"), ("stop", "c"), ("start", "b"), ("start", "c")]
        assert await running(root) == {"a": True, "b": True, "c": True}


async def test_item9_a_failed_one_for_all_restart_restarts_the_whole_group_again(
    runtime: Runtime, log: Log
) -> None:
    """As supervisor.erl: the retry is a one_for_all restart of the child that failed."""
    script = Script()
    spec = tree(log, "a", "b", "c", script=script, strategy=Strategy.ONE_FOR_ALL, intensity=2)
    async with open_tree(spec, runtime=runtime) as root:
        log.clear()
        script.failures["b"] = 1
        await crash(root.child("a"))
        assert log == [
            ("exit", "a"),
            ("stop", "c"),
            ("stop", "b"),
            ("start", "a"),  # then b fails to start: c is left stopped
            ("stop", "a"),  # the retry
            ("start", "a"),
            ("start", "b"),
            ("start", "c"),
        ]
        assert await running(root) == {"a": True, "b": True, "c": True}
