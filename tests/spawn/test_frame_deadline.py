"""Frame deadlines: once part of a frame arrived, the rest must follow within frame_timeout.

In one process under the autojump clock (the channel), and with real workers
each way: a reply that stalls fails its call and the worker is killed; a
request that stalls makes the worker exit.
"""

from __future__ import annotations

import operator

import pytest
import trio
import trio.testing

from spawn import (
    Channel,
    Codec,
    ProtocolError,
    SpawnTemplate,
    WorkerDied,
    open_pool,
)
from spawn._worker import function_config, start_worker
from tests.leaks import LeakCheck
from tests.spawn import workload

DEADLINE = 60  # generous: a stall of 0.5 s must be reported long before it
HEADER = (64).to_bytes(4, "big")


def _pair(timeout: float | None = 1.0) -> tuple[Channel, trio.abc.HalfCloseableStream]:
    ours, theirs = trio.testing.memory_stream_pair()
    return Channel(ours, Codec(), frame_timeout=timeout), theirs


@pytest.mark.parametrize("batch", [False, True])
async def test_a_stalled_body_is_a_protocol_error_at_its_deadline(
    batch: bool, autojump_clock: trio.testing.MockClock
) -> None:
    channel, peer = _pair(timeout=1.0)
    await peer.send_all(HEADER + b"\x93")
    start = trio.current_time()
    with pytest.raises(ProtocolError, match=r"stalled: 5 bytes .* frame_timeout \(1.0 s\)"):
        await (channel.receive_batch() if batch else channel.receive())
    assert trio.current_time() - start == pytest.approx(1.0)
    # the next bytes are never read as the rest of the stalled frame
    await peer.send_all(b"\x00" * 63)
    with pytest.raises(ProtocolError, match="broke on an earlier frame"):
        await channel.receive()


async def test_a_stalled_header_counts_too(autojump_clock: trio.testing.MockClock) -> None:
    channel, peer = _pair(timeout=1.0)
    await peer.send_all(b"\x00\x00")
    with pytest.raises(ProtocolError, match="stalled: 2 bytes"):
        await channel.receive()


async def test_an_idle_channel_waits_between_frames_without_deadline(
    autojump_clock: trio.testing.MockClock,
) -> None:
    channel, peer = _pair(timeout=1.0)
    async with trio.open_nursery() as nursery:

        async def late_sender() -> None:
            await trio.sleep(100)  # idle for a hundred deadlines: that is no stall
            payload = Codec().encode("late")
            await peer.send_all(len(payload).to_bytes(4, "big") + payload)

        nursery.start_soon(late_sender)
        assert await channel.receive() == "late"


@pytest.mark.parametrize("batch", [False, True])
async def test_a_body_that_arrives_in_time_is_read_whole(
    batch: bool, autojump_clock: trio.testing.MockClock
) -> None:
    """The deadline spans the frame: two late pieces within it, then the next frame."""
    channel, peer = _pair(timeout=1.0)
    payload = Codec().encode(["x" * 40, 7])
    frame = len(payload).to_bytes(4, "big") + payload
    async with trio.open_nursery() as nursery:

        async def sender() -> None:
            await peer.send_all(frame[:10])
            await trio.sleep(0.4)
            await peer.send_all(frame[10:20])
            await trio.sleep(0.4)
            await peer.send_all(frame[20:] + frame)

        nursery.start_soon(sender)
        if batch:
            assert await channel.receive_batch() == [["x" * 40, 7], ["x" * 40, 7]]
        else:
            assert await channel.receive() == ["x" * 40, 7]
            assert await channel.receive() == ["x" * 40, 7]


async def test_the_deadline_spans_the_frame_not_each_piece(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Pieces that each come within the deadline but together take longer still stall."""
    channel, peer = _pair(timeout=1.0)
    async with trio.open_nursery() as nursery:

        async def dribble() -> None:
            await peer.send_all(HEADER)
            for _ in range(10):
                await trio.sleep(0.3)
                await peer.send_all(b"\x00")

        nursery.start_soon(dribble)
        with pytest.raises(ProtocolError, match="stalled"):
            await channel.receive()
        nursery.cancel_scope.cancel()


async def test_no_deadline_when_frame_timeout_is_none(
    autojump_clock: trio.testing.MockClock,
) -> None:
    channel, peer = _pair(timeout=None)
    await peer.send_all(HEADER)
    with trio.move_on_after(1000) as scope:
        await channel.receive()
    assert scope.cancelled_caught


async def test_a_reply_that_stalls_fails_the_call_and_the_worker_is_killed(
    leaks: LeakCheck,
) -> None:
    """Worker to parent: the header and part of a reply, then nothing. The call fails
    with WorkerDied (a ProtocolError naming the stall as its cause), the worker is
    killed, and the pool answers the next call from a new worker."""
    with trio.fail_after(DEADLINE):
        async with open_pool(max_workers=1, spares=0, frame_timeout=0.5) as pool:
            pid = await pool.run(workload.pid)
            leaks.watch(pid)
            with pytest.raises(WorkerDied, match="stalled") as info:
                await pool.run(workload.stall_reply)
            assert info.value.pid == pid
            assert isinstance(info.value.__cause__, ProtocolError)
            assert "frame_timeout (0.5 s)" in str(info.value.__cause__)
            other = await pool.run(workload.pid)
            leaks.watch(other)
            assert other != pid
            assert await pool.run(operator.add, 2, 3) == 5


async def test_a_request_that_stalls_makes_the_worker_exit(leaks: LeakCheck) -> None:
    """Parent to worker: the header and part of a request, then nothing. The worker
    reports the stall, exits with its protocol status (70), and its channel ends."""
    template = SpawnTemplate.worker(config=function_config(frame_timeout=0.5))
    with trio.fail_after(DEADLINE):
        worker = await start_worker(template)
        leaks.watch(worker.pid)
        try:
            await worker.channel.stream.send_all(HEADER + b"\x94")
            with pytest.raises(trio.EndOfChannel):
                await worker.channel.receive()
            assert await worker.process.wait() == 70
        finally:
            await worker.aclose(budget=5)
