"""Two kinds of pool on one supply: function pools, and lease-only worker pools."""

from __future__ import annotations

import pytest
import trio

from spawn import FUNCTION_WORKER, Pool, WorkerPool, open_pool, open_worker_pool
from tests.leaks import LeakCheck
from tests.spawn import workload

DEADLINE = 60
ECHO = "tests.spawn.echo_entry"


async def test_a_worker_pool_leases_workers_of_its_kind(leaks: LeakCheck) -> None:
    """A lease hands over a handshaken worker of the pool's kind, stopped when it ends."""
    with trio.fail_after(DEADLINE):
        async with open_worker_pool(ECHO, config={"greeting": "hi "}, max_workers=2) as pool:
            assert isinstance(pool, WorkerPool)
            assert not isinstance(pool, Pool)
            assert not hasattr(pool, "run")
            assert pool.template.entry == ECHO
            pool.preload("json", "json")
            assert pool.template.preload == ("json",)
            async with pool.lease() as worker:
                leaks.watch(worker.pid)
                assert pool.statistics().leased == 1
                await worker.channel.send_frame(b"there ")
                assert await worker.channel.receive_frame() == b"hi there %d" % worker.pid
            assert await worker.process.wait() == 0
            stats = pool.statistics()
            assert (stats.leased, stats.busy, stats.queued) == (0, 0, 0)


async def test_a_worker_pool_is_not_for_function_workers() -> None:
    with pytest.raises(ValueError, match="open_pool"):
        async with open_worker_pool(FUNCTION_WORKER):
            pass  # pragma: no cover


async def test_a_pool_of_another_kind_refuses_functions(leaks: LeakCheck) -> None:
    """``open_pool(entry=...)`` still yields a :class:`Pool`, whose calls say why not."""
    with trio.fail_after(DEADLINE):
        async with open_pool(max_workers=1, spares=0, entry=ECHO, config={"greeting": ""}) as pool:
            with pytest.raises(TypeError, match=f"run {ECHO}, not functions"):
                await pool.run(workload.pid)
            with pytest.raises(TypeError, match="not functions"):
                pool.submit()
            assert pool.statistics().started == 0
