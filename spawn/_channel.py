"""A framed message channel over a trio stream: 4-byte big-endian length, then the payload.

The length prefix is checked against the frame limit before any buffer is
allocated. Once part of a frame has arrived, the rest must follow within the
channel's ``frame_timeout`` (a stalled frame is a :class:`~spawn.ProtocolError`,
not a wait forever, and never read as the start of the next one); the timer is
armed only when a read must wait for the rest. Frames queued while a write is in
flight leave together in one write (coalescing), so a burst of small messages
costs few system calls.

>>> import trio, trio.testing
>>> from spawn import Codec
>>> async def main() -> object:
...     left, right = trio.testing.memory_stream_pair()
...     a, b = Channel(left, Codec()), Channel(right, Codec())
...     await a.send({"point": (1, 2)})
...     return await b.receive()
>>> trio.run(main)
{'point': (1, 2)}
"""

from __future__ import annotations

import errno
import os
import socket
import struct
import time
from collections.abc import Callable, Sequence
from typing import Final, Protocol

import trio

from ._exceptions import DecodeError, FrameTooLarge, ProtocolError

#: The size of a frame's length prefix, in bytes.
FRAME_HEADER: Final = 4
HEADER: Final = FRAME_HEADER  # the short name this module (and actors._node) uses
_READ_CHUNK: Final = 65536
#: How long the rest of a frame may take to arrive once its first bytes did, by default.
FRAME_TIMEOUT: Final = 10.0
#: The longest a read spins (yielding the CPU) before it waits in the event loop.
SPIN_WINDOW: Final = 100e-6
_SIZE: Final = struct.Struct(">I")  # a frame's length prefix (FRAME_HEADER bytes)
_unpack_size_from = _SIZE.unpack_from
_now = time.perf_counter
_yield_cpu = os.sched_yield


class SocketStream(trio.abc.HalfCloseableStream):
    """A trio stream over a connected stdlib socket that yields only when it must wait.

    Unlike :class:`trio.SocketStream` it takes no schedule point when the socket
    is ready (a call into a warm worker blocks on the reply anyway), which saves
    two trips through the scheduler per round trip. Every method is still a
    cancellation point. One sender and one receiver at a time (the channel sees
    to it).

    Before it sleeps in the event loop, a read that finds nothing retries up to
    ``spin`` times, yielding the CPU (``sched_yield``) in between: a warm worker
    answers within tens of microseconds, and a sleep and wake-up of the parent
    costs more than that (it cut a warm call from about 70 to 45 µs on a 2-core
    VM). It stops at ``spin`` yields or after :data:`SPIN_WINDOW`, whichever comes
    first: when other processes want the CPU a yield can cost a whole time slice,
    and a read that waits for a starting interpreter must not hold up the event
    loop for one slice per yield.
    """

    _BROKEN: Final = frozenset({errno.EPIPE, errno.ECONNRESET, errno.ENOTCONN})

    def __init__(self, sock: socket.socket, *, spin: int = 20) -> None:
        sock.setblocking(False)
        self.socket = sock
        self.spin = spin
        # one reused buffer: a fresh 64 KiB per read costs a page fault or two each time
        self._buffer = bytearray(_READ_CHUNK)

    def _check_open(self) -> None:
        if self.socket.fileno() == -1:
            raise trio.ClosedResourceError("the stream is closed")

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await trio.lowlevel.checkpoint_if_cancelled()
        with memoryview(data) as view:
            while view:
                self._check_open()
                try:
                    view = view[self.socket.send(view) :]
                except BlockingIOError:
                    await trio.lowlevel.wait_writable(self.socket)
                except OSError as exc:
                    if exc.errno in self._BROKEN:
                        raise trio.BrokenResourceError(f"peer gone: {exc}") from exc
                    raise

    async def wait_send_all_might_not_block(self) -> None:
        self._check_open()
        await trio.lowlevel.wait_writable(self.socket)

    async def receive_some(self, max_bytes: int | None = None, *, spin: bool = True) -> bytes:
        """As :meth:`trio.abc.ReceiveStream.receive_some`; ``spin=False`` waits at once."""
        await trio.lowlevel.checkpoint_if_cancelled()
        spins = self.spin if spin else 0
        until = 0.0
        while True:
            if self.socket.fileno() == -1:  # _check_open, inline: this is the hot path
                raise trio.ClosedResourceError("the stream is closed")
            try:
                if max_bytes is not None and max_bytes > _READ_CHUNK:
                    return self.socket.recv(max_bytes)
                size = self.socket.recv_into(self._buffer, max_bytes or _READ_CHUNK)
                return bytes(memoryview(self._buffer)[:size])
            except BlockingIOError:
                if spins:
                    now = _now()
                    until = until or now + SPIN_WINDOW
                    if now < until:
                        spins -= 1
                        _yield_cpu()
                        continue
                    spins = 0
                await trio.lowlevel.wait_readable(self.socket)
            except OSError as exc:
                if exc.errno in self._BROKEN:
                    raise trio.BrokenResourceError(f"peer gone: {exc}") from exc
                raise

    async def send_eof(self) -> None:
        await trio.lowlevel.checkpoint_if_cancelled()
        self._check_open()
        try:
            self.socket.shutdown(socket.SHUT_WR)
        except OSError as exc:
            if exc.errno not in self._BROKEN:
                raise

    async def aclose(self) -> None:
        if self.socket.fileno() != -1:
            trio.lowlevel.notify_closing(self.socket)
            self.socket.close()
        await trio.lowlevel.checkpoint()


class Coder(Protocol):
    """What a channel needs of a codec (:class:`spawn.Codec` is one)."""

    def encode(self, value: object) -> bytes: ...
    def decode(self, data: bytes) -> object: ...


class Channel:
    """Messages over a byte stream; one sender side and one receiver side.

    Several tasks may :meth:`send` at once (their frames are coalesced); one task
    at a time may :meth:`receive`. ``max_frame`` defaults to the codec's frame
    limit (``codec.limits.frame``), else 16 MiB. Once part of a frame has
    arrived, the rest must arrive within ``frame_timeout`` seconds (``None``: no
    deadline), else the receiver raises :class:`~spawn.ProtocolError`.
    """

    def __init__(
        self,
        stream: trio.abc.Stream,
        codec: Coder,
        *,
        max_frame: int | None = None,
        frame_timeout: float | None = FRAME_TIMEOUT,
    ) -> None:
        self.stream = stream
        self.codec = codec
        if max_frame is None:
            limits = getattr(codec, "limits", None)
            max_frame = getattr(limits, "frame", 16 * 1024 * 1024)
        self.max_frame: int = max_frame
        self.frame_timeout = frame_timeout
        # A codec that decodes any bytes-like object (``decode_buffer``, as ours has) is
        # given each frame in place; another gets bytes.
        self._decode_buffer: Callable[[memoryview], object] | None = getattr(
            codec, "decode_buffer", None
        )
        self._buffer = bytearray()
        self._deadline: float | None = None  # of the frame begun in the buffer, once waited for
        self._queue: list[bytes] = []
        self._queued_batch = 0  # the number of the batch now filling
        self._written_batch = -1  # the last batch written completely
        self._writing = False
        self._flushed = trio.lowlevel.ParkingLot()
        self._broken: BaseException | None = None
        self._receiving = False
        self.writes = 0  # how many send_all calls carried frames (for tests and statistics)

    # -- sending ------------------------------------------------------------

    async def send(self, value: object) -> None:
        """Encode ``value`` and send it as one frame.

        Raises :class:`~spawn.EncodeError` (nothing sent) if it cannot be encoded,
        :class:`trio.BrokenResourceError` if an earlier write failed or was cancelled.
        Cancellation: a frame still waiting in the queue is withdrawn (not sent).
        Bytes already handed to the socket cannot be recalled: a frame whose batch
        is being written still arrives; a write cancelled half way breaks the
        channel (as with any trio stream), and later sends raise.
        """
        await self.send_frame(self.codec.encode(value))

    async def send_frame(self, payload: bytes) -> None:
        """Send ``payload`` as one frame as it is (the handshake uses it)."""
        await trio.lowlevel.checkpoint_if_cancelled()  # so a cancelled write has begun
        if len(payload) > self.max_frame:
            raise ProtocolError(f"frame of {len(payload):,} bytes is over the frame limit")
        self._check_broken()
        await self._send(len(payload).to_bytes(HEADER, "big") + payload)

    async def send_frames(self, payloads: Sequence[bytes]) -> None:
        """Send each of ``payloads`` as one frame, in order, in one write if it can.

        Atomic: a payload over the frame limit raises :class:`ProtocolError` and
        nothing is sent. Cancellation as for :meth:`send`.
        """
        await trio.lowlevel.checkpoint_if_cancelled()
        parts = []
        for payload in payloads:
            if len(payload) > self.max_frame:
                raise ProtocolError(f"frame of {len(payload):,} bytes is over the frame limit")
            parts.append(len(payload).to_bytes(HEADER, "big"))
            parts.append(payload)
        self._check_broken()
        await self._send(b"".join(parts))

    async def _send(self, frame: bytes) -> None:
        self._queue.append(frame)
        batch = self._queued_batch
        if self._writing:
            await self._wait_flushed(frame, batch)
        else:
            await self._write_queue()

    async def _wait_flushed(self, frame: bytes, batch: int) -> None:
        try:
            while self._written_batch < batch and self._broken is None:
                await self._flushed.park()
        except trio.Cancelled:
            if batch == self._queued_batch:  # not taken yet: withdraw it
                for index, queued in enumerate(self._queue):
                    if queued is frame:
                        del self._queue[index]
                        break
            raise
        self._check_broken()

    async def _write_queue(self) -> None:
        self._writing = True
        try:
            while self._queue:
                data = b"".join(self._queue) if len(self._queue) > 1 else self._queue[0]
                self._queue = []
                batch = self._queued_batch
                self._queued_batch += 1
                self.writes += 1
                await self.stream.send_all(data)
                self._written_batch = batch
                if self._flushed:
                    self._flushed.unpark_all()
        except BaseException as exc:
            self._broken = exc
            raise
        finally:
            self._writing = False
            if self._flushed:
                self._flushed.unpark_all()

    def _check_broken(self) -> None:
        if self._broken is not None:
            raise trio.BrokenResourceError("an earlier write on this channel failed") from (
                self._broken
            )

    async def send_eof(self) -> None:
        """Tell the peer no more frames will come (it sees end of file), if the stream can."""
        if isinstance(self.stream, trio.abc.HalfCloseableStream):
            await self.stream.send_eof()
        else:
            await self.stream.aclose()

    # -- receiving ----------------------------------------------------------

    async def receive(self) -> object:
        """The next message. Raises :class:`trio.EndOfChannel` at end of file between
        frames, :class:`~spawn.ProtocolError` for anything malformed or a frame whose
        rest did not arrive within ``frame_timeout`` (the channel is broken
        afterwards), :class:`trio.BusyResourceError` if another task is receiving.

        Cancellation: safe; a partly read frame stays buffered for the next call.
        """
        payload = await self.receive_frame()
        try:
            return self.codec.decode(payload)
        except DecodeError as exc:
            self._broken = exc
            raise ProtocolError(f"undecodable frame: {exc}") from exc

    async def receive_frame(self) -> bytes:
        """The next frame's payload as bytes (the handshake uses it)."""
        if self._receiving:
            raise trio.BusyResourceError("another task is receiving on this channel")
        self._receiving = True
        try:
            if isinstance(self._broken, ProtocolError | DecodeError):
                raise ProtocolError("the channel broke on an earlier frame") from self._broken
            if not self._buffer:  # the usual case: one read brings exactly one frame
                chunk = await self.stream.receive_some(_READ_CHUNK)
                if not chunk:
                    raise trio.EndOfChannel
                size = int.from_bytes(chunk[:HEADER], "big") if len(chunk) >= HEADER else -1
                if size == len(chunk) - HEADER and size <= self.max_frame:
                    return bytes(chunk[HEADER:])
                self._buffer += chunk
            if not await self._fill(HEADER):
                raise trio.EndOfChannel
            size = int.from_bytes(self._buffer[:HEADER], "big")
            if size > self.max_frame:
                self._broken = FrameTooLarge(
                    f"length prefix announces {size:,} bytes; the frame limit is {self.max_frame:,}"
                )
                raise self._broken
            if not await self._fill(HEADER + size):
                self._broken = ProtocolError(f"end of file inside a frame of {size:,} bytes")
                raise self._broken
            payload = bytes(self._buffer[HEADER : HEADER + size])
            del self._buffer[: HEADER + size]
            self._deadline = None
            return payload
        finally:
            self._receiving = False

    async def receive_batch(self) -> list[object]:
        """Every message that arrived already, in order; waits for one if none did.

        Errors as for :meth:`receive`, except that messages before a malformed
        frame are returned first and the error is raised by the next call.
        Cancellation: safe, as for :meth:`receive`. Made for a receiver with
        several requests in flight: a :class:`SocketStream` does not spin for
        it (a yield of the CPU lets another Python thread take the GIL for a
        whole switch interval), it waits in the event loop at once.
        """
        if self._receiving:
            raise trio.BusyResourceError("another task is receiving on this channel")
        self._receiving = True
        try:
            if isinstance(self._broken, ProtocolError | DecodeError):
                raise ProtocolError("the channel broke on an earlier frame") from self._broken
            buffer = self._buffer
            messages = self._take_buffered() if buffer else []
            while not messages:
                missing = _READ_CHUNK
                if len(buffer) >= HEADER:
                    missing = HEADER + int.from_bytes(buffer[:HEADER], "big")
                    missing = max(_READ_CHUNK, missing - len(buffer))
                stream = self.stream
                if not buffer and type(stream) is SocketStream:  # between frames: no deadline
                    chunk: bytes | bytearray = await stream.receive_some(missing, spin=False)
                else:
                    chunk = await self._receive_some(missing, spin=False)
                if not chunk:
                    if self._buffer:
                        self._broken = ProtocolError(
                            f"end of file after {len(self._buffer)} bytes of a frame"
                        )
                        raise self._broken
                    raise trio.EndOfChannel
                decode_buffer = self._decode_buffer
                if not buffer and len(chunk) >= HEADER and decode_buffer is not None:
                    # The usual case of a call: one read brings exactly one frame, decoded
                    # from the chunk without a copy into the buffer.
                    size = _unpack_size_from(chunk, 0)[0]
                    if size == len(chunk) - HEADER and size <= self.max_frame:
                        try:
                            return [decode_buffer(memoryview(chunk)[HEADER:])]
                        except DecodeError as exc:
                            self._broken = exc
                            raise ProtocolError(f"undecodable frame: {exc}") from exc
                self._buffer += chunk
                messages = self._take_buffered()
            return messages
        finally:
            self._receiving = False

    def _take_buffered(self) -> list[object]:
        """Decode and remove the complete frames at the front of the buffer."""
        buffer, decode, limit = self._buffer, self.codec.decode, self.max_frame
        decode_buffer = self._decode_buffer
        messages: list[object] = []
        failure: ProtocolError | DecodeError | None = None
        start, end = 0, len(buffer)
        with memoryview(buffer) as view:
            while end - start >= HEADER:
                size = _unpack_size_from(buffer, start)[0]
                if size > limit:
                    failure = FrameTooLarge(
                        f"length prefix announces {size:,} bytes; the frame limit is {limit:,}"
                    )
                    break
                if end - start - HEADER < size:
                    break
                try:
                    with view[start + HEADER : start + HEADER + size] as frame:
                        if decode_buffer is not None:
                            messages.append(decode_buffer(frame))
                        else:
                            messages.append(decode(bytes(frame)))
                except DecodeError as exc:
                    failure = exc
                    break
                start += HEADER + size
        if start:
            del buffer[:start]
            self._deadline = None
        if failure is not None:
            self._broken = failure
            if not messages:
                if isinstance(failure, FrameTooLarge):
                    raise failure
                raise ProtocolError(f"undecodable frame: {failure}") from failure
        return messages

    async def _fill(self, size: int) -> bool:
        """Read until the buffer holds ``size`` bytes; ``False`` at EOF on an empty buffer."""
        while len(self._buffer) < size:
            chunk = await self._receive_some(max(_READ_CHUNK, size - len(self._buffer)))
            if not chunk:
                if self._buffer:
                    self._broken = ProtocolError(
                        f"end of file after {len(self._buffer)} bytes of a frame"
                    )
                    raise self._broken
                return False
            self._buffer += chunk
        return True

    async def _receive_some(self, max_bytes: int, *, spin: bool = True) -> bytes | bytearray:
        """The next bytes; under the frame's deadline if part of a frame is buffered.

        ``spin=False`` asks a :class:`SocketStream` to wait in the event loop at once.
        """
        stream = self.stream
        if not self._buffer or self.frame_timeout is None:  # between frames: no deadline
            if isinstance(stream, SocketStream):
                return await stream.receive_some(max_bytes, spin=spin)
            return await stream.receive_some(max_bytes)
        if self._deadline is None:
            self._deadline = trio.current_time() + self.frame_timeout
        with trio.move_on_at(self._deadline):
            if isinstance(stream, SocketStream):
                return await stream.receive_some(max_bytes, spin=spin)
            return await stream.receive_some(max_bytes)
        self._broken = ProtocolError(
            f"a frame stalled: {len(self._buffer):,} bytes of it arrived and the rest did not "
            f"follow within frame_timeout ({self.frame_timeout} s)"
        )
        raise self._broken

    async def aclose(self) -> None:
        """Close the stream (waiting senders see :class:`trio.BrokenResourceError`)."""
        await self.stream.aclose()
