"""docs/semantics.md §3 and §4: synchronous start, ignore, a child that fails to start."""

from __future__ import annotations

import pytest

from actors import InitError, Runtime
from supervisor import ChildSpec, StartFailed, Supervisor, open_tree

from .workers import Log, Script, Worker


def spec_of(log: Log, *names: str, script: Script | None = None) -> Supervisor:
    return Supervisor(children=[ChildSpec(n, Worker, args=(n, log, script)) for n in names])


async def test_item3_start_returns_after_every_child_started_in_order(
    runtime: Runtime, log: Log
) -> None:
    async with open_tree(spec_of(log, "a", "b", "c"), runtime=runtime) as root:
        assert log == [("start", "a"), ("start", "b"), ("start", "c")]
        infos = await root.which_children()
        assert [info.id for info in infos] == ["a", "b", "c"]
        assert all(info.ref is not None and runtime.is_alive(info.ref) for info in infos)
        assert await root.child("b").call("ping") == "b"


async def test_item3_a_child_that_ignores_keeps_its_spec_without_an_actor(
    runtime: Runtime, log: Log
) -> None:
    script = Script(ignore={"b"})
    async with open_tree(spec_of(log, "a", "b", "c", script=script), runtime=runtime) as root:
        assert log == [("start", "a"), ("start", "c")]
        infos = {info.id: info for info in await root.which_children()}
        assert list(infos) == ["a", "b", "c"]
        assert infos["b"].ref is None
        assert not infos["b"].restarting
        counts = await root.count_children()
        assert (counts.specs, counts.active) == (3, 2)


async def test_item4_a_failing_child_stops_the_started_ones_in_reverse_and_is_named(
    runtime: Runtime, log: Log
) -> None:
    script = Script(failures={"c": 1})
    with pytest.raises(StartFailed) as caught:
        async with open_tree(spec_of(log, "a", "b", "c", "d", script=script), runtime=runtime):
            pass  # pragma: no cover
    assert caught.value.path == "c"
    assert "'c'" in str(caught.value)
    assert "cannot start" in str(caught.value)
    assert isinstance(caught.value.__cause__, InitError)
    assert isinstance(caught.value.__cause__.__cause__, RuntimeError)
    assert log == [("start", "a"), ("start", "b"), ("stop", "b"), ("stop", "a")]
    assert runtime.statistics().actors == 0


async def test_item4_a_failure_deep_in_a_tree_names_its_path(runtime: Runtime, log: Log) -> None:
    script = Script(failures={"y": 1})
    inner = spec_of(log, "x", "y", script=script)
    spec = Supervisor(children=[ChildSpec("a", Worker, args=("a", log)), ChildSpec("sub", inner)])
    with pytest.raises(StartFailed) as caught:
        async with open_tree(spec, runtime=runtime):
            pass  # pragma: no cover
    assert caught.value.path == "sub"
    assert "'sub/y'" in str(caught.value)
    assert log == [("start", "a"), ("start", "x"), ("stop", "x"), ("stop", "a")]
    assert runtime.statistics().actors == 0
