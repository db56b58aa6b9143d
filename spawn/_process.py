"""A handle on one child process: wait with a pidfd inside trio, stop within a budget, reap.

>>> import sys, trio
>>> async def main() -> int:
...     template = SpawnTemplate.program([sys.executable, "-I", "-S", "-c", "pass"], env={})
...     process = Process.spawn(template)
...     return await process.wait()
>>> trio.run(main)
0
"""

from __future__ import annotations

import errno
import os
import signal
from collections.abc import Awaitable, Callable, Mapping
from typing import Final, Protocol

import trio

from ._children import disown, own
from ._template import SpawnTemplate

#: How long a process may take to vanish after SIGKILL before we give up waiting.
KILL_REAP_TIMEOUT: Final = 10.0
_POLL_MIN: Final = 0.001
_POLL_MAX: Final = 0.05


class Process:
    """One child of this process, waited for through a pidfd (Linux 5.3+).

    Where pidfds are missing it polls ``waitpid(WNOHANG)`` with a growing delay,
    never SIGCHLD and never a thread per child. Signals go through the pidfd, so
    they can never reach a recycled pid. ``returncode`` is ``None`` until the
    process was reaped, then its exit status, or ``-signum`` if a signal killed it.
    Until then its pid is *owned*: an orphan reaper (:func:`~spawn.open_reaper`)
    leaves its exit status to this handle.
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        own(pid)  # already owned when spawned from a template; a pid from elsewhere is now
        self.returncode: int | None = None
        self._lock = trio.Lock()
        try:
            self._pidfd: int | None = os.pidfd_open(pid)
        except OSError as exc:
            if exc.errno not in (errno.ENOSYS, errno.EPERM):
                raise
            self._pidfd = None

    @classmethod
    def spawn(cls, template: SpawnTemplate, handover: Mapping[int, int] | None = None) -> Process:
        """Start a process from ``template`` (see :meth:`SpawnTemplate.spawn`)."""
        return cls(template.spawn(handover))

    def __repr__(self) -> str:
        return f"<Process pid={self.pid} returncode={self.returncode}>"

    def poll(self) -> int | None:
        """Reap the process if it has exited; return :attr:`returncode`. Never blocks."""
        if self.returncode is None:
            self._reap(blocking=False)
        return self.returncode

    async def wait(self) -> int:
        """Wait until the process exits, reap it, return its :attr:`returncode`.

        Cancellation: safe at any point; the process is then neither waited for
        nor reaped (call ``wait`` or ``stop`` again).
        """
        async with self._lock:
            delay = _POLL_MIN
            while (code := self.returncode) is None:
                if self._pidfd is not None:
                    await trio.lowlevel.wait_readable(self._pidfd)
                    self._reap(blocking=True)
                elif not self._reap(blocking=False):
                    await trio.sleep(delay)
                    delay = min(delay * 2, _POLL_MAX)
        return code

    def _reap(self, *, blocking: bool) -> bool:
        try:
            pid, status = os.waitpid(self.pid, 0 if blocking else os.WNOHANG)
        except ChildProcessError:  # someone else reaped it (a waitpid(-1) in this process)
            pid, status = self.pid, 255 << 8
        if pid == 0:
            return False
        self.returncode = os.waitstatus_to_exitcode(status)
        disown(self.pid)
        if self._pidfd is not None:
            os.close(self._pidfd)  # only the task holding self._lock ever waits on it
            self._pidfd = None
        return True

    def send_signal(self, sig: int) -> None:
        """Send ``sig`` unless the process was already reaped (then do nothing)."""
        if self.returncode is not None:
            return
        try:
            if self._pidfd is not None:
                signal.pidfd_send_signal(self._pidfd, sig)
            else:
                os.kill(self.pid, sig)  # an unreaped child's pid cannot be recycled
        except ProcessLookupError:
            pass

    def terminate(self) -> None:
        """Send SIGTERM."""
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        """Send SIGKILL."""
        self.send_signal(signal.SIGKILL)

    async def stop(self, budget: float, *, ask: Callable[[], Awaitable[None]] | None = None) -> int:
        """Stop the process within ``budget`` seconds and reap it; return its returncode.

        The ladder: ``ask()`` at once (e.g. close its channel) when given, SIGTERM at
        half the budget (at once without ``ask``), SIGKILL at the end, then reap.

        Cancellation: the process is still killed and reaped, shielded and bounded
        by :data:`KILL_REAP_TIMEOUT`, before ``Cancelled`` propagates.
        """
        try:
            return await stop_ladder(self, budget, ask)
        finally:
            if self.returncode is None:
                with trio.move_on_after(KILL_REAP_TIMEOUT) as scope:
                    scope.shield = True
                    self.kill()
                    await self.wait()


class Stoppable(Protocol):
    """What :func:`stop_ladder` needs of a process (a fake in tests)."""

    returncode: int | None

    def send_signal(self, sig: int) -> None: ...
    def kill(self) -> None: ...
    async def wait(self) -> int: ...


async def stop_ladder(
    target: Stoppable, budget: float, ask: Callable[[], Awaitable[None]] | None
) -> int:
    """Ask, SIGTERM at half of ``budget``, SIGKILL at its end; wait for the exit.

    The wait after SIGKILL is unbounded here; :meth:`Process.stop` bounds it.
    """
    start = trio.current_time()
    if ask is not None and budget > 0:
        with trio.move_on_at(start + budget / 2):
            await ask()
            return await target.wait()
    if budget > 0:
        target.send_signal(signal.SIGTERM)
        with trio.move_on_at(start + budget):
            return await target.wait()
    target.kill()
    return await target.wait()
