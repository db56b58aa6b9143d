"""docs/semantics.md §11: backoff, and the stash of a child waiting to restart."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from actors import CallTimeout, Runtime
from supervisor import Backoff, ChildSpec, StashFull, Supervisor, open_tree

from .helpers import crash, settle
from .workers import Log, Script, Worker


def tree(log: Log, script: Script, backoff: Backoff) -> Supervisor:
    spec = ChildSpec("b", Worker, args=("b", log, script), backoff=backoff)
    return Supervisor(intensity=100, period=1.0, children=[spec])


async def test_item11_delays_double_up_to_the_maximum_and_reset_after_a_quiet_period(
    runtime: Runtime, log: Log, autojump_clock: trio.testing.MockClock
) -> None:
    script = Script()
    backoff = Backoff(minimum=1.0, maximum=4.0, random_factor=0.0, reset_after=10.0)
    async with open_tree(tree(log, script, backoff), runtime=runtime) as root:
        b = root.child("b")
        delays = []
        for _ in range(4):
            crashed = trio.current_time()
            await crash(b)
            assert b.whereis() is None
            assert await b.call("ping") == "b"  # waits for the restart
            delays.append(script.start_times[-1] - crashed)
        assert delays == [1.0, 2.0, 4.0, 4.0]
        await trio.sleep(10.0)  # a quiet period
        crashed = trio.current_time()
        await crash(b)
        assert await b.call("ping") == "b"
        assert script.start_times[-1] - crashed == 1.0


async def test_item11_messages_are_stashed_while_waiting_and_delivered_in_order(
    runtime: Runtime, log: Log, autojump_clock: trio.testing.MockClock
) -> None:
    backoff = Backoff(minimum=5.0, maximum=5.0, random_factor=0.0, stash_size=3)
    async with open_tree(tree(log, Script(), backoff), runtime=runtime) as root:
        b = root.child("b")
        await crash(b)
        await b.cast("one")
        b.cast_nowait("two")
        await b.send("three")
        with pytest.raises(StashFull, match="stash is full"):
            await b.cast("four")
        with pytest.raises(StashFull):
            b.send_nowait("four")
        with pytest.raises(StashFull):
            await b.call("ping")
        await trio.sleep(5.0)
        await settle()
        assert await b.call("seen") == ["one", "two", ("info", "three")]
        await b.cast("five")  # to the new incarnation directly
        assert await b.call("seen") == ["one", "two", ("info", "three"), "five"]


async def test_item11_a_call_waiting_for_the_restart_still_has_its_timeout(
    runtime: Runtime, log: Log, autojump_clock: trio.testing.MockClock
) -> None:
    backoff = Backoff(minimum=5.0, maximum=5.0, random_factor=0.0)
    async with open_tree(tree(log, Script(), backoff), runtime=runtime) as root:
        await crash(root.child("b"))
        started = trio.current_time()
        with pytest.raises(CallTimeout):
            await root.child("b").call("ping", timeout=1.0)
        assert trio.current_time() - started == 1.0


async def test_item11_the_jitter_stays_within_the_random_factor(
    runtime: Runtime, log: Log, autojump_clock: trio.testing.MockClock
) -> None:
    script = Script()
    backoff = Backoff(minimum=2.0, maximum=2.0, random_factor=0.5)
    async with open_tree(tree(log, script, backoff), runtime=runtime) as root:
        for _ in range(5):
            crashed = trio.current_time()
            await crash(root.child("b"))
            await root.child("b").call("ping")
            assert 2.0 <= script.start_times[-1] - crashed <= 3.0
