"""docs/semantics.md §24 and §25: registered names and process groups."""

from __future__ import annotations

import pytest
import trio.testing

from actors import (
    GroupJoined,
    GroupLeft,
    NamedRef,
    NameTaken,
    NoSuchActor,
    Runtime,
)

from .probe import Probe, stop_all


async def test_item24_a_taken_name_fails_with_the_holder(runtime: Runtime) -> None:
    holder = await runtime.spawn(Probe, name="db")
    with pytest.raises(NameTaken) as info:
        await runtime.spawn(Probe, name="db")
    assert info.value.holder == holder
    assert runtime.statistics().actors == 1
    await stop_all(runtime, holder)


async def test_item24_a_name_is_released_when_its_actor_exits(runtime: Runtime) -> None:
    holder = await runtime.spawn(Probe, name="db")
    await runtime.stop(holder)
    assert runtime.whereis("db") is None
    again = await runtime.spawn(Probe, name="db")
    assert runtime.whereis("db") == again
    await stop_all(runtime, again)


async def test_item24_sending_by_name_reaches_the_current_incarnation(runtime: Runtime) -> None:
    named = runtime.named("svc")
    assert isinstance(named, NamedRef)
    with pytest.raises(NoSuchActor):
        await named.call(("echo", 1))
    first = await runtime.spawn(Probe, name="svc")
    await named.cast("one")
    await runtime.stop(first)
    second = await runtime.spawn(Probe, name="svc")
    await named.cast("two")
    assert await named.call("seen") == [("cast", "two")]
    assert await second.call("seen") == [("cast", "two")]
    await stop_all(runtime, second)


async def test_item24_a_cast_by_a_free_name_is_a_dead_letter(runtime: Runtime) -> None:
    await runtime.named("nobody").cast("hello")
    assert runtime.statistics().dead_letters == 1


async def test_item24_names_and_refs_are_different_types(runtime: Runtime) -> None:
    with pytest.raises(TypeError):
        runtime.named("")
    with pytest.raises(TypeError):
        await runtime.spawn(Probe, name=42)  # type: ignore[arg-type]


async def test_item25_join_twice_leave_twice(runtime: Runtime) -> None:
    member = await runtime.spawn(Probe)
    await member.call(("join", "g"))
    await member.call(("join", "g"))
    assert runtime.groups.members("g") == [member, member]
    assert await member.call(("leave", "g")) is True
    assert runtime.groups.members("g") == [member]
    assert await member.call(("leave", "g")) is True
    assert runtime.groups.members("g") == []
    assert await member.call(("leave", "g")) is False
    await stop_all(runtime, member)


async def test_item25_members_leave_when_they_exit(runtime: Runtime) -> None:
    a = await runtime.spawn(Probe)
    b = await runtime.spawn(Probe)
    await a.call(("join", "g"))
    await a.call(("join", "g"))
    await b.call(("join", "g"))
    await runtime.stop(a)
    assert runtime.groups.members("g") == [b]
    await stop_all(runtime, b)


async def test_item25_watchers_are_told_of_joins_and_leaves(runtime: Runtime) -> None:
    watcher = await runtime.spawn(Probe)
    early = await runtime.spawn(Probe)
    await early.call(("join", "g"))
    assert await watcher.call(("watch", "g")) == [early]
    late = await runtime.spawn(Probe)
    await late.call(("join", "g"))
    await late.call(("leave", "g"))
    runtime.kill(early)
    await runtime.wait(early)
    await trio.testing.wait_all_tasks_blocked()
    assert await watcher.call("seen") == [
        ("info", GroupJoined("g", (late,))),
        ("info", GroupLeft("g", (late,))),
        ("info", GroupLeft("g", (early,))),
    ]
    await stop_all(runtime, watcher, late)
