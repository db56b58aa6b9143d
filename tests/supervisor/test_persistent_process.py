"""Process-actor restore: a persistent child placed in a worker survives a kill -9 of its worker.

The tree's SQLite store is in the root; the worker commits through it. Real
time with generous deadlines; the leak check makes sure no worker, zombie or
fd outlives the test.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import trio

from actors import KILLED, open_runtime
from supervisor import ChildSpec, Supervisor, open_sqlite_store, open_tree, read_state
from tests.actors.persistent_actors import Counter
from tests.leaks import LeakCheck

from .test_placement import LONG, new_incarnation

ROUNDS = 3


async def test_process_actor_restore_keeps_every_acknowledged_increment_across_kill_9(
    tmp_path: Path, leaks: LeakCheck
) -> None:
    tree = Supervisor(
        intensity=ROUNDS + 1, children=[ChildSpec("counter", Counter, placement="process")]
    )
    async with (
        open_sqlite_store(tmp_path) as store,
        open_runtime(store=store) as runtime,
        open_tree(tree, runtime=runtime) as root,
    ):
        address = root.child("counter")
        acknowledged = 0
        generations = []
        for round_ in range(ROUNDS):
            ref = address.whereis()
            assert ref is not None
            for _ in range(5 + round_):
                acknowledged = await address.call("add", timeout=LONG)
            [info] = await root.which_children()
            assert info.pid is not None
            leaks.watch(info.pid)
            stored = await read_state(store, "counter")
            assert stored is not None
            generations.append(stored.generation)
            watch = runtime.watch(ref)
            os.kill(info.pid, signal.SIGKILL)
            assert await watch.wait() == KILLED
            await new_incarnation(address, ref)
            assert await address.call("get", timeout=LONG) == acknowledged
        assert acknowledged == 5 + 6 + 7
        assert generations == sorted(set(generations))  # each incarnation a newer generation
        [info] = await root.which_children()
        assert info.pid is not None
        leaks.watch(info.pid)
        with trio.fail_after(LONG):
            await root.terminate_child("counter")  # a graceful stop commits, then exits
    async with open_sqlite_store(tmp_path) as store:
        stored = await read_state(store, "counter")
        assert stored is not None
        assert stored.value["value"] == acknowledged  # type: ignore[index]
        assert await store.integrity_check() == ["ok"]
