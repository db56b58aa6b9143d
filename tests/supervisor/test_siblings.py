"""``Sibling(id)`` in a child's args: the child is handed its sibling's address.

The address resolves the sibling's current incarnation at every send, so a child
keeps reaching its sibling across the sibling's restarts; a nested supervisor is
handed as a :class:`SupervisorHandle`.
"""

from __future__ import annotations

from typing import Any

import pytest

from actors import Actor, Caller, CallResult, Reply, Runtime
from supervisor import (
    ChildAddress,
    ChildSpec,
    InvalidSpec,
    Sibling,
    Supervisor,
    SupervisorHandle,
    check_supervisor,
    open_tree,
)

from .helpers import crash
from .workers import Log, Worker


class Forwarder(Actor):
    """Answers ("via", request) with what its sibling answers to request."""

    async def init(self, sibling: ChildAddress | SupervisorHandle) -> None:
        self.sibling = sibling

    async def handle_call(self, request: Any, caller: Caller) -> CallResult:
        match request:
            case "kind":
                return Reply(type(self.sibling).__name__)
            case "children":
                assert isinstance(self.sibling, SupervisorHandle)
                return Reply([info.id for info in await self.sibling.which_children()])
            case ("via", inner):
                assert isinstance(self.sibling, ChildAddress)
                return Reply(await self.sibling.call(inner))
        return Reply(None)


async def test_a_child_reaches_its_sibling_across_restarts(runtime: Runtime, log: Log) -> None:
    spec = Supervisor(
        intensity=5,
        children=[
            ChildSpec("store", Worker, args=("store", log)),
            ChildSpec("front", Forwarder, args=(Sibling("store"),)),
        ],
    )
    async with open_tree(spec, runtime=runtime) as root:
        front = root.child("front")
        assert await front.call("kind") == "ChildAddress"
        assert await front.call(("via", "ping")) == "store"
        first = root.child("store").whereis()
        await crash(root.child("store"))
        assert root.child("store").whereis() not in (None, first)
        assert await front.call(("via", "ping")) == "store"  # the new incarnation answers
    assert log.count(("start", "store")) == 2


async def test_a_supervisor_sibling_is_handed_as_a_handle(runtime: Runtime, log: Log) -> None:
    inner = Supervisor(children=[ChildSpec("x", Worker, args=("x", log))])
    spec = Supervisor(
        children=[
            ChildSpec("pool", inner),
            ChildSpec("front", Forwarder, args=(Sibling("pool"),)),
        ]
    )
    async with open_tree(spec, runtime=runtime) as root:
        assert await root.child("front").call("kind") == "SupervisorHandle"
        assert await root.child("front").call("children") == ["x"]


@pytest.mark.parametrize("target", ["nobody", "self"])
def test_a_sibling_must_name_another_child(target: str, log: Log) -> None:
    name = "self" if target == "self" else "front"
    spec = Supervisor(children=[ChildSpec(name, Forwarder, args=(Sibling(target),))])
    with pytest.raises(InvalidSpec) as raised:
        check_supervisor(spec)
    assert raised.value.field == "args"
    assert "names no other child" in str(raised.value)


def test_a_process_child_cannot_be_handed_an_address(log: Log) -> None:
    spec = Supervisor(
        children=[
            ChildSpec("store", Worker, args=("store", log)),
            ChildSpec("front", Forwarder, args=(Sibling("store"),), placement="process"),
        ]
    )
    with pytest.raises(InvalidSpec, match="cannot travel to another process") as raised:
        check_supervisor(spec)
    assert raised.value.child_id == "front"


def test_a_sibling_id_is_a_non_empty_string() -> None:
    with pytest.raises(TypeError):
        Sibling("")
