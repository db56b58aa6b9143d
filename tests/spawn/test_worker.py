"""Starting workers: failures, cancellation, and a second worker kind (the lease)."""

from __future__ import annotations

import pytest
import trio

from spawn import SpawnTemplate, WorkerStartError, function_config, open_pool, start_worker
from tests.leaks import LeakCheck

DEADLINE = 60


async def test_import_failure_in_a_worker_is_a_start_error(leaks: LeakCheck) -> None:
    with trio.fail_after(DEADLINE), pytest.raises(WorkerStartError) as info:
        async with open_pool(max_workers=1, preload=["tests.spawn.no_such_module"]):
            pass  # pragma: no cover - the pool does not open
    assert "ModuleNotFoundError" in str(info.value)


async def test_cancelled_start_leaves_nothing_behind(leaks: LeakCheck) -> None:
    """A start cancelled at any point kills and reaps the process and closes the socket
    (the leaks fixture checks children and fds)."""
    template = SpawnTemplate.worker(config=function_config())
    with trio.fail_after(DEADLINE):
        for delay in (0, 0.001, 0.005, 0.02):
            with trio.move_on_after(delay):
                worker = await start_worker(template)
                await worker.aclose(5)


async def test_a_second_worker_kind_is_leased_with_its_channel(leaks: LeakCheck) -> None:
    """The worker kind is pluggable (``entry``), and a lease hands over a handshaken worker
    and its channel: what the actors' worker processes are built on."""
    with trio.fail_after(DEADLINE):
        async with open_pool(
            max_workers=2, entry="tests.spawn.echo_entry", config={"greeting": "hi "}
        ) as pool:
            with pytest.raises(TypeError, match="not functions"):
                await pool.run(print)
            async with pool.lease() as worker:
                leaks.watch(worker.pid)
                await worker.channel.send_frame(b"there ")
                assert await worker.channel.receive_frame() == b"hi there %d" % worker.pid
            assert await worker.process.wait() == 0
