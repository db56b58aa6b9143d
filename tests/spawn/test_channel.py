"""The framed channel, in one process: limits, protocol errors, coalescing, cancellation."""

from __future__ import annotations

import socket
import tracemalloc

import pytest
import trio
import trio.lowlevel
import trio.testing

from spawn import Channel, Codec, EncodeError, FrameTooLarge, ProtocolError, _channel


class CountingStream(trio.abc.HalfCloseableStream):
    """A stream that counts the writes that reach it."""

    def __init__(self, inner: trio.abc.HalfCloseableStream) -> None:
        self.inner = inner
        self.writes = 0

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        self.writes += 1
        await self.inner.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self.inner.wait_send_all_might_not_block()

    async def send_eof(self) -> None:
        await self.inner.send_eof()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        return await self.inner.receive_some(max_bytes)

    async def aclose(self) -> None:
        await self.inner.aclose()


def _pair() -> tuple[Channel, trio.abc.HalfCloseableStream]:
    ours, theirs = trio.testing.memory_stream_pair()
    return Channel(ours, Codec()), theirs


async def test_round_trip_keeps_tuples() -> None:
    left, right = trio.testing.memory_stream_pair()
    a, b = Channel(left, Codec()), Channel(right, Codec())
    await a.send({"t": (1, (2, b"x")), "l": [None, 1.5]})
    assert await b.receive() == {"t": (1, (2, b"x")), "l": [None, 1.5]}


async def test_huge_length_prefix_rejected_without_allocating() -> None:
    """Acceptance: a length prefix of 0xFFFFFFFF is rejected without allocating."""
    channel, peer = _pair()
    await peer.send_all(b"\xff\xff\xff\xff")
    tracemalloc.start()
    try:
        with pytest.raises(FrameTooLarge):
            await channel.receive()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1024 * 1024
    with pytest.raises(ProtocolError):  # the channel stays broken
        await channel.receive()


@pytest.mark.parametrize(
    "garbage",
    [b"\x00\x00\x00\x02\xc1\xc1", b"\x00\x00\x00\x03\x93\x01\x02"],
    ids=["undecodable", "short-array"],
)
async def test_garbage_is_a_protocol_error(garbage: bytes) -> None:
    """Acceptance: garbage bytes give a protocol error."""
    channel, peer = _pair()
    await peer.send_all(garbage)
    with pytest.raises(ProtocolError):
        await channel.receive()


async def test_truncated_frame_is_a_protocol_error() -> None:
    """Acceptance: a truncated frame gives a protocol error; EOF between frames ends."""
    channel, peer = _pair()
    await peer.send_all(b"\x00\x00\x00\x10abc")
    await peer.send_eof()
    with pytest.raises(ProtocolError, match="end of file"):
        await channel.receive()
    clean, peer2 = _pair()
    await peer2.send_eof()
    with pytest.raises(trio.EndOfChannel):
        await clean.receive()


async def test_deep_nesting_rejected_without_recursion_error() -> None:
    """Acceptance: deeply nested msgpack is rejected without RecursionError."""
    channel, peer = _pair()
    for body in (b"\x91" * 100_000 + b"\xc0", b"\xd4\x00\x91" * 2000 + b"\xc0"):
        channel, peer = _pair()
        await peer.send_all(len(body).to_bytes(4, "big") + body)
        with pytest.raises(ProtocolError) as info:
            await channel.receive()
        assert not isinstance(info.value.__cause__, RecursionError)


async def test_unencodable_value_raises_at_the_sender() -> None:
    ours, _theirs = trio.testing.memory_stream_pair()
    counting = CountingStream(ours)
    channel = Channel(counting, Codec())
    with pytest.raises(EncodeError):
        await channel.send({1: "int key"})
    assert counting.writes == 0


async def test_coalescing_1000_frames_in_at_most_20_writes() -> None:
    """Acceptance: 1,000 frames queued at once leave in at most 20 writes (counted)."""
    ours, theirs = trio.testing.memory_stream_pair()
    counting = CountingStream(ours)
    sender = Channel(counting, Codec())
    receiver = Channel(theirs, Codec())
    received: list[object] = []

    async def receive_all() -> None:
        for _ in range(1000):
            received.append(await receiver.receive())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(receive_all)
        async with trio.open_nursery() as senders:
            for i in range(1000):
                senders.start_soon(sender.send, i)
    assert sorted(received) == list(range(1000))  # type: ignore[type-var]
    assert counting.writes <= 20, counting.writes
    assert sender.writes == counting.writes


async def test_cancelled_send_still_queued_is_withdrawn() -> None:
    """A send cancelled while its frame waits behind a blocked write sends nothing."""
    ours, theirs = trio.testing.memory_stream_pair()
    gate = trio.Event()
    counting = CountingStream(ours)
    original = counting.send_all

    async def slow_send_all(data: bytes | bytearray | memoryview) -> None:
        await gate.wait()
        await original(data)

    counting.send_all = slow_send_all  # type: ignore[method-assign]
    sender, receiver = Channel(counting, Codec()), Channel(theirs, Codec())
    outcome: list[str] = []

    async def send_withdrawn(scope: trio.CancelScope) -> None:
        with scope:
            await sender.send("withdrawn")
            outcome.append("sent")
        outcome.append("cancelled" if scope.cancelled_caught else "not cancelled")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(sender.send, "first")
        await trio.testing.wait_all_tasks_blocked()
        scope = trio.CancelScope()
        nursery.start_soon(send_withdrawn, scope)
        await trio.testing.wait_all_tasks_blocked()
        scope.cancel()
        await trio.testing.wait_all_tasks_blocked()
        gate.set()
    await sender.send("last")
    assert outcome == ["cancelled"]
    assert await receiver.receive() == "first"
    assert await receiver.receive() == "last"


async def test_send_frames_and_receive_batch_keep_order() -> None:
    left, right = trio.testing.memory_stream_pair()
    sender, receiver = Channel(left, Codec()), Channel(right, Codec())
    codec = Codec()
    await sender.send_frames([codec.encode(i) for i in range(100)])
    got: list[object] = []
    while len(got) < 100:
        batch = await receiver.receive_batch()
        assert batch
        got += batch
    assert got == list(range(100))


async def test_send_frames_over_the_limit_sends_nothing() -> None:
    ours, _theirs = trio.testing.memory_stream_pair()
    counting = CountingStream(ours)
    sender = Channel(counting, Codec(), max_frame=10)
    with pytest.raises(ProtocolError, match="over the frame limit"):
        await sender.send_frames([b"small", b"x" * 11])
    assert counting.writes == 0


async def test_receive_batch_returns_what_precedes_a_bad_frame_then_raises() -> None:
    ours, theirs = trio.testing.memory_stream_pair()
    receiver = Channel(ours, Codec())
    good = Codec().encode("fine")
    await theirs.send_all(
        len(good).to_bytes(4, "big") + good + b"\x00\x00\x00\x02\xc1\xc1" + b"\x00\x00\x00\x01"
    )
    assert await receiver.receive_batch() == ["fine"]
    with pytest.raises(ProtocolError):
        await receiver.receive_batch()


async def test_receive_batch_reassembles_a_frame_split_across_reads() -> None:
    ours, theirs = trio.testing.memory_stream_pair()
    receiver = Channel(ours, Codec())
    payload = Codec().encode("x" * 200_000)
    data = len(payload).to_bytes(4, "big") + payload
    async with trio.open_nursery() as nursery:

        async def dribble() -> None:
            for start in range(0, len(data), 7_000):
                await theirs.send_all(data[start : start + 7_000])
                await trio.lowlevel.checkpoint()
            await theirs.send_eof()

        nursery.start_soon(dribble)
        assert await receiver.receive_batch() == ["x" * 200_000]
        with pytest.raises(trio.EndOfChannel):
            await receiver.receive_batch()


async def test_receive_batch_refuses_an_oversized_length_prefix() -> None:
    ours, theirs = trio.testing.memory_stream_pair()
    receiver = Channel(ours, Codec(), max_frame=100)
    await theirs.send_all(b"\x00\x00\x10\x00")
    with pytest.raises(FrameTooLarge):
        await receiver.receive_batch()


async def test_a_read_stops_spinning_once_its_window_has_passed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A read that finds nothing yields the CPU at most until SPIN_WINDOW has passed,
    however many spins it may take: a yield can cost a whole time slice, and a
    read that waits for a starting interpreter must not keep the event loop."""
    clock = [0.0]
    yields: list[float] = []

    def fake_yield() -> None:
        yields.append(clock[0])
        clock[0] += 40e-6  # each yield comes back 40 µs later

    monkeypatch.setattr("spawn._channel._yield_cpu", fake_yield)
    monkeypatch.setattr("spawn._channel._now", lambda: clock[0])
    ours, theirs = socket.socketpair()
    with ours, theirs:
        stream = _channel.SocketStream(ours, spin=1000)
        async with trio.open_nursery() as nursery:

            async def answer_later() -> None:
                await trio.testing.wait_all_tasks_blocked()  # the reader is waiting
                theirs.send(b"late")

            nursery.start_soon(answer_later)
            assert await stream.receive_some() == b"late"
    assert yields == pytest.approx([0.0, 40e-6, 80e-6])  # then it waited in the loop


class BytesOnlyCoder:
    """A coder of the ``Coder`` protocol that takes nothing but bytes (no ``decode_buffer``)."""

    def encode(self, value: object) -> bytes:
        assert isinstance(value, str)
        return value.encode()

    def decode(self, data: bytes) -> object:
        assert type(data) is bytes, f"decode got {type(data).__name__}"
        return data.decode()


async def test_a_coder_without_decode_buffer_is_given_bytes() -> None:
    left, right = trio.testing.memory_stream_pair()
    sender, receiver = Channel(left, BytesOnlyCoder()), Channel(right, BytesOnlyCoder())
    await sender.send("one")  # one frame in one read
    assert await receiver.receive_batch() == ["one"]
    await sender.send_frames([b"two", b"three"])  # a batch, from the buffer
    got: list[object] = []
    while len(got) < 2:
        got += await receiver.receive_batch()
    assert got == ["two", "three"]


async def test_one_undecodable_frame_in_one_read_breaks_the_channel() -> None:
    ours, theirs = trio.testing.memory_stream_pair()
    receiver = Channel(ours, Codec())
    await theirs.send_all(b"\x00\x00\x00\x01\xc1")  # 0xc1: never used in msgpack
    with pytest.raises(ProtocolError, match="undecodable"):
        await receiver.receive_batch()
    with pytest.raises(ProtocolError, match="broke on an earlier frame"):
        await receiver.receive_batch()
