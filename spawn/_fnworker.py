"""The entry of a function worker: run functions by reference, one call at a time.

It needs no event loop: it blocks on its channel (fd 3), runs each request in
its main thread and exits when the channel reaches end of file. It imports
msgpack and nothing of trio; with the ``pickle`` codec, also :mod:`pickle`.

Request: ``[seq, module, qualname, payload]``. Reply: ``[seq, True, result]``
or ``[seq, False, box]`` with ``box = [type_name, message, traceback, pid,
args or None, pickled exception or None]``. With the msgpack codec the
payload is ``[args, kwargs]`` and the result a value; with the pickle codec
both are pickled bytes.
"""

from __future__ import annotations

import importlib
import os
import sys

from ._codec import Codec, Limits
from ._exceptions import EncodeError, InitializerError

TYPE_CHECKING = False  # typing costs a function worker 12 ms; mypy reads this name as usual
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

EXIT_PROTOCOL = 70
_CHUNK_REF = ("spawn._fnworker", "run_chunk")  # spawn._calls.CHUNK_REF (it imports pickle)
_HEADER = 4  # spawn.FRAME_HEADER, which lives with the channel (that imports trio)
_CHUNK = 65536


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
        frame = bytes(self.buffer[_HEADER : _HEADER + size])
        del self.buffer[: _HEADER + size]
        return frame

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
        self.broken = False  # the initializer failed: answer, then exit

    def handle(self, frame: bytes) -> bytes:
        request = self.codec.decode(frame)
        if type(request) is not list or len(request) != 4:
            raise EOFError("malformed request")
        seq, module, qualname, payload = request
        if self.initializer is not None:
            failure = self._initialize(self.initializer)
            self.initializer = None
            if failure is not None:
                self.broken = True
                return self.codec.encode([seq, False, self._box(failure)])
        try:
            function = self._resolve(module, qualname)
            args, kwargs = self._args(payload)
            result: object = function(*args, **kwargs)
            if self.pickle:
                import pickle

                result = pickle.dumps(result)
        except BaseException as exc:  # the caller gets it, as ProcessPoolExecutor does
            return self.codec.encode([seq, False, self._box(exc)])
        try:
            return self.codec.encode([seq, True, result])
        except EncodeError as exc:  # path: [2] is the result; [2][i] in a map chunk's
            if (module, qualname) == _CHUNK_REF:
                error = exc.naming(f"the result of {args[0]}.{args[1]}", 2)
            else:
                error = exc.naming(f"the result of {module}.{qualname}", 1)
            return self.codec.encode([seq, False, self._box(error)])

    def _resolve(self, module: str, qualname: str) -> Callable[..., Any]:
        key = (module, qualname)
        function = self.functions.get(key)
        if function is None:
            function = self.functions[key] = resolve_ref(module, qualname)
        return function

    def _args(self, payload: Any) -> tuple[list[Any], dict[str, Any]]:
        if self.pickle:
            import pickle

            args, kwargs = pickle.loads(payload)
            return list(args), kwargs
        args, kwargs = payload
        return args, kwargs

    def _initialize(self, initializer: list[Any]) -> InitializerError | None:
        """Run the pool's initializer once, before the first call; the error if it fails."""
        module, qualname, payload = initializer
        try:
            args, _ = self._args(payload if self.pickle else self.codec.decode(payload))
            resolve_ref(module, qualname)(*args)
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
                pickled = pickle.dumps(exc)
            except Exception:
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
        while not worker.broken and (frame := reader.read()) is not None:
            write_frame(fd, worker.handle(frame))
    except (EOFError, ValueError) as exc:  # DecodeError is a ValueError
        print(f"letitcrash worker {os.getpid()}: protocol error: {exc}", file=sys.stderr)
        return EXIT_PROTOCOL
    except BrokenPipeError:
        return 0
    return 0
