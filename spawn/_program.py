"""A program child: an external command in its own process group, its output read as lines.

:meth:`ProgramChild.start` spawns it through :meth:`SpawnTemplate.program` with
the exec shim (parent-death signal, the race check, ``cwd``), stdin on
``/dev/null`` and stdout and stderr on pipes to us; every other fd is closed.
:meth:`ProgramChild.serve` forwards its output, line by line, to a callback and
returns when it exits. The exit is seen through a pidfd, never through end of file
on the pipes (a daemonizing grandchild may hold them open forever): then what is
left of its process group is killed, the leader reaped, the pipes drained without
blocking and closed. :meth:`ProgramChild.stop` is the stop ladder.

>>> import trio
>>> async def main() -> None:
...     child = ProgramChild.start(["/bin/sh", "-c", "echo hello; exit 3"], env={})
...     code = await child.serve(lambda stream, line: print(stream, line))
...     print(code)
>>> trio.run(main)
stdout b'hello'
3
"""

from __future__ import annotations

import errno
import os
import signal
from collections.abc import Callable, Mapping, Sequence
from typing import Final

import trio

from ._process import KILL_REAP_TIMEOUT, Process
from ._survivors import forget_program, record_program
from ._template import SpawnTemplate

#: What one read of a pipe takes at most: small enough that a fast writer yields often.
_CHUNK: Final = 16 * 1024
#: Lines reported between two yields to the scheduler.
_LINES_PER_YIELD: Final = 256
#: The most a drain after the exit reads from one pipe (a grandchild may write on).
_DRAIN_LIMIT: Final = 1 << 20
_POLL_MIN: Final = 0.001
_POLL_MAX: Final = 0.05

#: ``on_line(stream, line)``: ``stream`` is ``"stdout"`` or ``"stderr"``, ``line`` has no newline.
LineCallback = Callable[[str, bytes], None]


class _Lines:
    """Cuts a byte stream into lines of at most ``max_line`` bytes (newline dropped)."""

    __slots__ = ("buffer", "max_line")

    def __init__(self, max_line: int) -> None:
        self.max_line = max_line
        self.buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        buffer = self.buffer
        buffer += data
        lines, start, size = [], 0, self.max_line
        while True:
            end = buffer.find(b"\n", start, start + size + 1)
            if 0 <= end - start <= size:
                lines.append(bytes(buffer[start:end]))
                start = end + 1
            elif len(buffer) - start >= size:
                lines.append(bytes(buffer[start : start + size]))
                start += size
            else:
                break
        del buffer[:start]
        return lines

    def flush(self) -> list[bytes]:
        """The partial line left at the end, if any."""
        rest = bytes(self.buffer)
        self.buffer.clear()
        return [rest] if rest else []


class _Pipe:
    """The read end of one output pipe (non-blocking) and its line splitter."""

    __slots__ = ("fd", "lines", "name")

    def __init__(self, name: str, fd: int, max_line: int) -> None:
        self.name = name
        self.fd = fd
        self.lines = _Lines(max_line)
        os.set_blocking(fd, False)

    async def pump(self, on_line: LineCallback) -> None:
        """Report lines until end of file (cancel it to stop earlier; nothing is lost)."""
        while True:
            try:
                data = os.read(self.fd, _CHUNK)
            except BlockingIOError:
                await trio.lowlevel.wait_readable(self.fd)
                continue
            if not data:
                return
            for count, line in enumerate(self.lines.feed(data), 1):
                on_line(self.name, line)
                if count % _LINES_PER_YIELD == 0:
                    await trio.lowlevel.cancel_shielded_checkpoint()
            await trio.lowlevel.checkpoint()

    def drain(self, on_line: LineCallback) -> None:
        """Report what can be read now without blocking, the partial line too; then close."""
        read = 0
        try:
            while read < _DRAIN_LIMIT:
                data = os.read(self.fd, _CHUNK)
                if not data:
                    break
                read += len(data)
                for line in self.lines.feed(data):
                    on_line(self.name, line)
        except BlockingIOError:
            pass
        finally:
            for line in self.lines.flush():
                on_line(self.name, line)
            os.close(self.fd)


class ProgramChild:
    """One external program started by :meth:`start`: its process group and output pipes.

    ``pid`` is also its process group's id. ``returncode`` is ``None`` until it was
    reaped, then its exit status, or ``-signum`` if a signal killed it.
    """

    #: The longest line reported by default; longer ones come in pieces of this size.
    MAX_LINE: Final = 64 * 1024

    def __init__(self, process: Process, pipes: list[_Pipe]) -> None:
        self.process = process
        self.pid = process.pid
        self._pipes = pipes
        try:
            self._exitfd: int | None = os.pidfd_open(self.pid)
        except OSError as exc:
            if exc.errno not in (errno.ENOSYS, errno.EPERM):
                raise
            self._exitfd = None
        record_program(self.pid)

    @classmethod
    def start(
        cls,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: str | None = None,
        max_line: int = MAX_LINE,
    ) -> ProgramChild:
        """Spawn ``argv`` (``argv[0]`` an absolute path) with ``env`` in ``cwd``.

        Call it from the thread that lives as long as the child may (the trio
        thread): the child's parent-death signal fires when that thread exits.
        Raises :class:`OSError` if it cannot be spawned.
        """
        template = SpawnTemplate.program(argv, env=env, cwd=cwd, die_with_parent=True)
        ends = [os.pipe(), os.pipe()]
        try:
            process = Process.spawn(template, {1: ends[0][1], 2: ends[1][1]})
        except BaseException:
            for read_end, _ in ends:
                os.close(read_end)
            raise
        finally:
            for _, write_end in ends:
                os.close(write_end)
        (out, _), (err, _) = ends
        return cls(process, [_Pipe("stdout", out, max_line), _Pipe("stderr", err, max_line)])

    def __repr__(self) -> str:
        return f"<ProgramChild pid={self.pid} returncode={self.returncode}>"

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    def signal_group(self, sig: int) -> None:
        """Send ``sig`` to the process group, while its leader is not reaped (it holds the id)."""
        if self.returncode is not None:
            return
        try:
            os.killpg(self.pid, sig)
        except ProcessLookupError:
            pass

    async def serve(self, on_line: LineCallback) -> int:
        """Report output lines until the program exits; then finish it; its returncode.

        Finishing: SIGKILL to what is left of its process group, reap, drain and
        close the pipes. Cancellation: safe; the program then runs on (call
        :meth:`stop`), and no output is lost.
        """
        if self.returncode is None:
            async with trio.open_nursery() as nursery:
                for pipe in self._pipes:
                    nursery.start_soon(pipe.pump, on_line)
                await self._exited()
                nursery.cancel_scope.cancel()
            self._finish(on_line)
        assert self.returncode is not None
        return self.returncode

    async def stop(self, stop_signal: int, budget: float, on_line: LineCallback) -> int | None:
        """The stop ladder: ``stop_signal`` to the group, ``budget`` seconds, SIGKILL.

        With ``budget`` 0 the group gets SIGKILL at once. Output is reported until
        the end. The wait after SIGKILL is bounded by ``KILL_REAP_TIMEOUT``; a
        process that outlives it (stuck in the kernel) is left unreaped and ``None``
        returned. Run it shielded where it must finish (a ``budget`` of ``math.inf``
        waits as long as it takes).
        """
        if self.returncode is None and budget > 0:
            self.signal_group(stop_signal)
            with trio.move_on_after(budget):
                return await self.serve(on_line)
        if self.returncode is None:
            self.signal_group(signal.SIGKILL)
            with trio.move_on_after(KILL_REAP_TIMEOUT):
                return await self.serve(on_line)
            self.abandon(on_line)
        return self.returncode

    def abandon(self, on_line: LineCallback) -> None:
        """Give up on a process that does not die: drain and close the pipes, keep the record."""
        self._close_exitfd()
        pipes, self._pipes = self._pipes, []
        for pipe in pipes:
            pipe.drain(on_line)

    async def _exited(self) -> None:
        """Until the leader has exited (not reaped: its pid still holds the group's id)."""
        if self._exitfd is not None:
            await trio.lowlevel.wait_readable(self._exitfd)
            return
        delay = _POLL_MIN
        flags = os.WEXITED | os.WNOHANG | os.WNOWAIT  # never blocks: it only looks
        while os.waitid(os.P_PID, self.pid, flags) is None:  # noqa: ASYNC222
            await trio.sleep(delay)
            delay = min(delay * 2, _POLL_MAX)

    def _finish(self, on_line: LineCallback) -> None:
        self.signal_group(signal.SIGKILL)  # the rest of the group: no process outlives its child
        self.process.poll()
        forget_program(self.pid)
        self.abandon(on_line)

    def _close_exitfd(self) -> None:
        if self._exitfd is not None:
            os.close(self._exitfd)
            self._exitfd = None
