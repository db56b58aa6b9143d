"""The entry of a function worker: run functions by reference, one call at a time.

It needs no event loop: it blocks on its channel (fd 3), runs each request in
its main thread and exits when the channel reaches end of file. It imports
msgpack and nothing of trio; with the ``pickle`` codec, also :mod:`pickle`.

Request: ``[seq, module, qualname, payload]``, or with a fifth item (true) for
a pipelined call that wants start notices. Reply: ``[seq, True, result]`` or
``[seq, False, box]`` with ``box = [type_name, message, traceback, pid, args
or None, pickled exception or None]``, and a seventh item ``"request"`` when
the request itself could not be unpickled. With the msgpack codec the payload
is ``[args, kwargs]`` and the result a value; with the pickle codec both are
pickled bytes, and ``module`` may be ``None``: the payload is then the pickled
``(function, args, kwargs)`` (the function by value, as pickle carries it).

Pipelined calls (see :func:`serve`): a skip ``[seq]`` from the parent withdraws
a call that has not started (its reply is ``[seq, None, None]``); before it
starts a call, the worker reports it, as ``[seq]`` or, riding with the reply
to the call before it, as a fourth item (true) of that reply.
"""

from __future__ import annotations

import importlib
import os
import sys

from ._codec import Codec, Limits
from ._exceptions import EncodeError, InitializerError
from ._mainmodule import install_main

TYPE_CHECKING = False  # typing costs a function worker 12 ms; mypy reads this name as usual
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

EXIT_PROTOCOL = 70
_CHUNK_REF = ("spawn._fnworker", "run_chunk")  # spawn._calls.CHUNK_REF (it imports pickle)
_HEADER = 4  # spawn.FRAME_HEADER, which lives with the channel (that imports trio)
_CHUNK = 65536
_SKIP = 0x91  # msgpack's array of one item: a skip, [seq]


class FrameReader:
    """Blocking reader of length-prefixed frames from one fd.

    Once part of a frame has arrived, the rest must arrive within
    ``frame_timeout`` seconds, else :meth:`read` raises :class:`EOFError`; the
    wait is a ``poll`` only when a read would block inside a frame.
    """

    def __init__(self, fd: int, max_frame: int, frame_timeout: float = 10.0) -> None:
        self.fd = fd
        self.max_frame = max_frame
        self.frame_timeout = frame_timeout
        self.buffer = bytearray()
        self.chunk = bytearray(_CHUNK)  # reused: a fresh 64 KiB per read costs page faults
        self.scanned = 0  # how far take_skips has looked into the buffer
        self.poller: Any = None  # a select.poll on fd, made on first use

    def read(self) -> bytes | None:
        """The next frame; ``None`` at end of file between frames."""
        deadline: list[float] = []  # the frame's, set when a read first waits inside it
        if not self._fill(_HEADER, deadline):
            return None
        size = int.from_bytes(self.buffer[:_HEADER], "big")
        if size > self.max_frame:
            raise EOFError(f"frame of {size} bytes is over the limit")
        if not self._fill(_HEADER + size, deadline):
            raise EOFError("truncated frame")
        return self._take(size)

    def _take(self, size: int) -> bytes:
        frame = bytes(self.buffer[_HEADER : _HEADER + size])
        del self.buffer[: _HEADER + size]
        self.scanned = max(0, self.scanned - _HEADER - size)
        return frame

    def buffered(self) -> bytes | None:
        """The next frame if it is already buffered whole, else ``None`` (never blocks)."""
        if len(self.buffer) < _HEADER:
            return None
        size = int.from_bytes(self.buffer[:_HEADER], "big")
        if size > self.max_frame:
            raise EOFError(f"frame of {size} bytes is over the limit")
        if len(self.buffer) < _HEADER + size:
            return None
        return self._take(size)

    def take_skips(self) -> list[bytes]:
        """Take the buffered skips (one-item arrays) out of turn; each byte is looked at once."""
        found = []
        buffer = self.buffer
        at = self.scanned
        while len(buffer) - at >= _HEADER:
            end = at + _HEADER + int.from_bytes(buffer[at : at + _HEADER], "big")
            if end > len(buffer):
                break
            if end > at + _HEADER and buffer[at + _HEADER] == _SKIP:
                found.append(bytes(buffer[at + _HEADER : end]))
                del buffer[at:end]
            else:
                at = end
        self.scanned = at
        return found

    def poll(self) -> None:
        """Buffer what has arrived, without blocking (skips sent while a call ran)."""
        if self.poller is None:
            import select

            self.poller = select.poll()
            self.poller.register(self.fd, select.POLLIN)
        while self.poller.poll(0):
            count = os.readv(self.fd, [self.chunk])
            if not count:
                return  # end of file: the next blocking read reports it
            self.buffer += memoryview(self.chunk)[:count]
            if count < _CHUNK:
                return

    def _fill(self, size: int, deadline: list[float]) -> bool:
        while len(self.buffer) < size:
            if self.buffer:
                self._wait_inside_frame(deadline)
            count = os.readv(self.fd, [self.chunk])
            if not count:
                if self.buffer:
                    raise EOFError("truncated frame")
                return False
            self.buffer += memoryview(self.chunk)[:count]
        return True

    def _wait_inside_frame(self, deadline: list[float]) -> None:
        """Wait until the fd is readable, or raise past the frame's deadline."""
        import select
        import time

        if not deadline:
            deadline.append(time.monotonic() + self.frame_timeout)
        poller = select.poll()
        poller.register(self.fd, select.POLLIN)
        while True:
            left = deadline[0] - time.monotonic()
            if left <= 0:
                raise EOFError(
                    f"a frame stalled: {len(self.buffer):,} bytes of it arrived and the rest "
                    f"did not follow within frame_timeout ({self.frame_timeout} s)"
                )
            if poller.poll(min(left, 3600.0) * 1000 + 1):
                return


def write_frame(fd: int, payload: bytes) -> None:
    """Write one frame, all of it."""
    data = memoryview(len(payload).to_bytes(_HEADER, "big") + payload)
    while data:
        data = data[os.write(fd, data) :]


class FunctionWorker:
    """Decode a request, run it, encode the reply."""

    def __init__(self, config: dict[str, Any]) -> None:
        frame, string, container, depth = config["limits"]
        self.codec = Codec(
            limits=Limits(frame=frame, string=string, container=container, depth=depth)
        )
        self.pickle = config["codec"] == "pickle"
        self.functions: dict[tuple[str, str], Callable[..., Any]] = {}
        self.pid = os.getpid()
        self.initializer: list[Any] | None = config.get("initializer")
        self.authkey: bytes | None = config.get("authkey")
        self.broken = False  # the initializer failed: answer, then exit
        install_main(config.get("main"))

    def handle(self, request: list[Any]) -> bytes:
        """The encoded reply to ``request``, a decoded ``[seq, module, qualname, payload, ...]``."""
        reply = self._reply(request)
        try:
            return self.codec.encode(reply)
        except EncodeError as exc:
            if reply[1] is not True:
                raise
            seq, module, qualname, payload = request[:4]
            if (module, qualname) == _CHUNK_REF:  # a map chunk: name the user's function
                user_module, user_qualname = payload[0][:2]
                named = exc.naming(f"the result of {user_module}.{user_qualname}", 2)
            else:
                name = f"{module}.{qualname}" if module is not None else str(qualname)
                named = exc.naming(f"the result of {name}", 1)
            error = EncodeError(
                f'{named}; use codec="pickle" or return plain data',
                reason=named.reason,
                path=named.path,
            )
            return self.codec.encode([seq, False, self._box(error)])

    def _reply(self, request: list[Any]) -> list[object]:
        seq, module, qualname, payload = request[:4]
        if self.initializer is not None:
            failure = self._initialize(self.initializer)
            self.initializer = None
            if failure is not None:
                self.broken = True
                return [seq, False, self._box(failure)]
        try:
            function, args, kwargs = self._call(module, qualname, payload)
        except BaseException as exc:  # a request that does not unpickle: the caller is told
            return [seq, False, [*self._box(exc), "request"]]
        try:
            result: object = function(*args, **kwargs)
            if self.pickle:
                import pickle

                result = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
        except BaseException as exc:  # the caller gets it, as ProcessPoolExecutor does
            return [seq, False, self._box(exc)]
        return [seq, True, result]

    def _call(
        self, module: str | None, qualname: str, payload: Any
    ) -> tuple[Callable[..., Any], list[Any], dict[str, Any]]:
        if not self.pickle:
            args, kwargs = payload
            return self._resolve(module or "", qualname), args, kwargs
        import pickle

        if self.authkey is not None and b"multiprocessing" in payload:
            self._adopt_authkey(self.authkey)
        if module is None:
            function, args, kwargs = pickle.loads(payload)
            return function, args, kwargs
        args, kwargs = pickle.loads(payload)
        return self._resolve(module, qualname), list(args), kwargs

    def _adopt_authkey(self, authkey: bytes) -> None:
        """Take the parent's multiprocessing authkey, so its Manager proxies authenticate."""
        import multiprocessing.process as mp_process

        mp_process.current_process().authkey = authkey
        self.authkey = None

    def _resolve(self, module: str, qualname: str) -> Callable[..., Any]:
        key = (module, qualname)
        function = self.functions.get(key)
        if function is None:
            function = self.functions[key] = resolve_ref(module, qualname)
        return function

    def _initialize(self, initializer: list[Any]) -> InitializerError | None:
        """Run the pool's initializer once, before the first call; the error if it fails."""
        module, qualname, payload = initializer
        try:
            if self.pickle:
                import pickle

                if self.authkey is not None and b"multiprocessing" in payload:
                    self._adopt_authkey(self.authkey)
                function, args = pickle.loads(payload)
            else:
                function = resolve_ref(module, qualname)
                args, _ = self.codec.decode(payload)  # type: ignore[misc]
            function(*args)
        except BaseException as exc:  # reported to the caller of the first call
            import traceback

            text = "".join(traceback.format_exception(exc)).rstrip()
            return InitializerError(
                f"the worker's initializer {module}.{qualname} failed: "
                f"{type(exc).__name__}: {exc}\n{text}"
            )
        return None

    def _box(self, exc: BaseException) -> list[object]:
        import traceback

        cls = type(exc)
        text = "".join(traceback.format_exception(exc))
        try:
            args: object = self.codec.encode(list(exc.args)) and list(exc.args)
        except EncodeError:
            args = None
        pickled = None
        if self.pickle:
            import pickle

            try:
                pickled = pickle.dumps(exc, protocol=pickle.HIGHEST_PROTOCOL)
            except BaseException:  # an exception that cannot travel travels boxed
                pickled = None
        return [f"{cls.__module__}.{cls.__qualname__}", str(exc), text, self.pid, args, pickled]


def resolve_ref(module: str, qualname: str) -> Callable[..., Any]:
    """The function named by ``module`` and ``qualname`` (imported if need be).

    The inverse of :func:`~spawn.function_ref`:

    >>> resolve_ref("os.path", "join")("a", "b")
    'a/b'
    """
    found: Any = importlib.import_module(module)
    for part in qualname.split("."):
        found = getattr(found, part)
    if not callable(found):
        raise TypeError(f"{module}.{qualname} is not callable")
    return found  # type: ignore[no-any-return]


resolve = resolve_ref  # the old name, still imported by actors._runtime


def run_chunk(module: str, qualname: str, columns: list[list[Any]]) -> list[Any]:
    """``[fn(*args) for args in zip(*columns)]`` for the function ``module.qualname``.

    What ``Executor.map(chunksize=n)`` runs: a chunk travels as one list per
    argument position, since homogeneous lists encode fastest.
    """
    fn = resolve_ref(module, qualname)
    return [fn(*args) for args in zip(*columns, strict=True)]


def run_calls(fn: Callable[..., Any], columns: list[list[Any]]) -> list[Any]:
    """``[fn(*args) for args in zip(*columns)]``: a chunk of ``Executor.map`` with pickle,
    where ``fn`` travels by value."""
    return [fn(*args) for args in zip(*columns, strict=True)]


def main(fd: int, config: dict[str, Any]) -> int:
    """Serve calls on ``fd`` until end of file (exit 0) or a protocol error (exit 70).

    A frame whose rest does not arrive within ``config["frame_timeout"]`` seconds
    is a protocol error: the worker exits, which closes its channel.

    A worker whose initializer failed answers the call that was waiting with the
    error, then exits (0): the pool replaces it.
    """
    worker = FunctionWorker(config)
    reader = FrameReader(fd, worker.codec.limits.frame, config.get("frame_timeout", 10.0))
    try:
        serve(fd, worker, reader)
    except (EOFError, ValueError) as exc:  # DecodeError is a ValueError
        print(f"letitcrash worker {os.getpid()}: protocol error: {exc}", file=sys.stderr)
        return EXIT_PROTOCOL
    except BrokenPipeError:
        return 0
    return 0


def serve(fd: int, worker: FunctionWorker, reader: FrameReader) -> None:
    """Answer requests in order until end of file, or until the initializer failed.

    A plain request is answered at once. A pipelined one (fifth item true) is
    reported before it starts; its reply waits until the worker knows whether
    the next call starts at once, so that the start notice rides with it. Skips
    that arrive before a call starts withdraw it.
    """
    codec = worker.codec
    skipped: set[int] = set()
    last: bytes | None = None  # the reply to the last pipelined call, not yet sent
    started = 0  # the seq of the last pipelined call started
    while not worker.broken:
        frame = reader.buffered()
        if frame is None:
            if last is not None:
                write_frame(fd, last)
                last = None
            frame = reader.read()
            if frame is None:
                return
        request = codec.decode(frame)
        if type(request) is not list or not 1 <= len(request) <= 5:
            raise EOFError("malformed request")
        seq = request[0]
        if len(request) == 1:  # a skip; one for a call already started comes too late
            if type(seq) is int and seq > started:
                skipped.add(seq)
            continue
        if len(request) < 4:
            raise EOFError("malformed request")
        if len(request) == 4 or not request[4]:
            if last is not None:
                write_frame(fd, last)
                last = None
            write_frame(fd, worker.handle(request))
            continue
        reader.poll()
        for skip in reader.take_skips():
            notice = codec.decode(skip)
            if type(notice) is list and type(notice[0]) is int and notice[0] > started:
                skipped.add(notice[0])
        if seq in skipped:
            skipped.discard(seq)
            if last is not None:
                write_frame(fd, last)
            last = codec.encode([seq, None, None])
            continue
        started = seq
        write_frame(fd, codec.encode([seq]) if last is None else _and_started(last))
        last = worker.handle(request)
    if last is not None:
        write_frame(fd, last)


def _and_started(reply: bytes) -> bytes:
    """``reply`` (an encoded array of three) with a fourth item, true: the next call started."""
    return b"\x94" + reply[1:] + b"\xc3"
