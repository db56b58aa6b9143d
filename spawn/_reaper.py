"""Init duties: be a child subreaper, reap adopted orphans, stop the survivors at the end.

A process whose parent dies is re-parented to the nearest *child subreaper*
among its ancestors (else to PID 1 of its PID namespace). A daemon that is one,
or that runs as PID 1 in a container, must reap those orphans as they exit and
stop them when it stops. :func:`open_reaper` does both without ever taking an
exit status that a :class:`~spawn.Process` waits for: it scans ``/proc`` for
children of this process and reaps only the pids nothing owns (never
``waitpid(-1)``, never ``waitid(P_ALL)``); every spawn of ``spawn`` registers
its pid before the reaper can see it (see ``spawn._children``).

The example runs in a child Python, because a subreaper adopts the orphans of
everything its process runs later:

>>> import subprocess, sys
>>> script = '''
... import trio, spawn
... async def main() -> None:
...     async with spawn.open_reaper(stop_budget=5.0) as reaper:
...         # sh starts a sleep in the background and exits: the sleep is orphaned, then ours
...         argv = ["/bin/sh", "-c", "sleep 60 & exit 3"]
...         sh = spawn.Process.spawn(spawn.SpawnTemplate.program(argv, env={"PATH": "/bin"}))
...         print("sh exited with", await sh.wait())  # its status is its own, not the reaper's
...     print("adopted", reaper.adopted, "stopped", reaper.stopped)  # the sleep, by SIGTERM
... trio.run(main)
... '''
>>> run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
>>> print(run.stdout, end="")
sh exited with 3
adopted 1 stopped 1
"""

from __future__ import annotations

import ctypes
import logging
import math
import os
import signal
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Final

import trio

from ._children import child_states, prune_owned, reap_unowned, unowned
from ._process import KILL_REAP_TIMEOUT

PR_SET_CHILD_SUBREAPER: Final = 36
PR_GET_CHILD_SUBREAPER: Final = 37
#: How often the reaper scans when no SIGCHLD arrives (libuv, under uvloop, may take SIGCHLD).
SCAN_INTERVAL: Final = 1.0
#: How long an exited child that nothing owns stays a zombie before the reaper takes it:
#: one started by ``subprocess`` or ``trio.run_process`` here is reaped by its own waiter.
ZOMBIE_GRACE: Final = 0.5
_POLL_MIN: Final = 0.005
_POLL_MAX: Final = 0.05

logger = logging.getLogger("spawn")


def _prctl(option: int, arg: int | ctypes.c_int, name: str) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    pointer = ctypes.byref(arg) if isinstance(arg, ctypes.c_int) else arg
    if int(libc.prctl(option, pointer, 0, 0, 0)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"the kernel refused prctl({name}): {os.strerror(err)}")


def is_subreaper() -> bool:
    """Whether this process is a child subreaper now (``PR_GET_CHILD_SUBREAPER``)."""
    value = ctypes.c_int(0)
    _prctl(PR_GET_CHILD_SUBREAPER, value, "PR_GET_CHILD_SUBREAPER")
    return value.value != 0


def _set_subreaper(on: bool) -> None:
    _prctl(PR_SET_CHILD_SUBREAPER, int(on), "PR_SET_CHILD_SUBREAPER")


def become_subreaper() -> None:
    """Make this process a child subreaper: orphaned descendants are re-parented to it.

    PID 1 of a PID namespace receives the orphans of the namespace anyway; there a
    refusal is ignored. Elsewhere a refusal (a kernel before 3.4, a seccomp
    filter) raises :class:`OSError` with the kernel's errno. The orphans must then
    be reaped: use :func:`open_reaper`, which calls this.

    >>> become_subreaper.__name__  # it changes this process: see open_reaper's example
    'become_subreaper'
    """
    try:
        _set_subreaper(True)
    except OSError:
        if os.getpid() != 1:
            raise


def _check_proc() -> None:
    """Refuse a ``/proc`` of another PID namespace: its pids would name other processes."""
    try:
        me = os.readlink("/proc/self")
    except OSError as exc:
        raise OSError(exc.errno, f"cannot read /proc ({exc.strerror}): it must be mounted") from exc
    if me != str(os.getpid()):
        raise OSError(
            f"/proc belongs to another PID namespace (/proc/self is {me}, this process is"
            f" {os.getpid()}): mount a proc of this namespace (unshare --pid --fork --mount-proc)"
        )


class Reaper:
    """The orphan reaper :func:`open_reaper` runs; its counts are for logs.

    ``adopted`` counts the orphans it reaped (those that exited on their own and
    those stopped at the end), ``stopped`` those it signalled at the end.
    ``stop_budget`` is read when the block ends: set it to 0 to SIGKILL the
    orphans at once (after a second SIGINT, say).
    """

    def __init__(self, stop_budget: float, grace: float = ZOMBIE_GRACE) -> None:
        self.adopted = 0
        self.stopped = 0
        self.stop_budget = stop_budget
        self.grace = grace
        self._zombies: dict[int, float] = {}  # unowned zombie -> when it was first seen

    def _due(self, children: dict[int, str], now: float) -> list[int]:
        """The zombies that waited ``grace`` seconds (remembering the ones that came)."""
        zombies = self._zombies
        seen = {pid: zombies.get(pid, now) for pid, state in children.items() if state == "Z"}
        self._zombies = seen
        return [pid for pid, since in seen.items() if now - since >= self.grace]

    def _next_due(self, now: float) -> float:
        """Seconds until the first remembered zombie is due (inf if none)."""
        if not self._zombies:
            return math.inf
        return max(0.0, min(self._zombies.values()) + self.grace - now)

    def __repr__(self) -> str:
        return f"<Reaper adopted={self.adopted} stopped={self.stopped}>"

    def reap(self, *, at_once: bool = False) -> int:
        """Reap the exited children of this process that nothing owns and that stayed
        zombies for ``grace`` seconds (``at_once``: all of them); return how many.

        Never blocks. Also drops owned pids that were reaped behind their handle's back.
        """
        children = child_states()
        prune_owned(children)
        due = list(children) if at_once else self._due(children, time.monotonic())
        reaped = reap_unowned(due)
        for pid, code in reaped:
            logger.debug("reaped adopted orphan %d (exit status %d)", pid, code)
        self.adopted += len(reaped)
        return len(reaped)

    async def _run(self, interval: float) -> None:
        """Reap at every SIGCHLD, and every ``interval`` seconds whatever happens to SIGCHLD."""
        if threading.current_thread() is threading.main_thread():
            with trio.open_signal_receiver(signal.SIGCHLD) as signals:
                while True:
                    self.reap()
                    with trio.move_on_after(min(interval, self._next_due(time.monotonic()))):
                        await anext(signals)
        else:
            while True:  # trio takes signals only in the main thread: scan alone
                self.reap()
                await trio.sleep(min(interval, self._next_due(time.monotonic())))

    async def _stop_orphans(self) -> None:
        """SIGTERM the orphans still alive, SIGKILL those left after the budget, reap them all.

        Orphans of orphans arrive while it runs and get the same. Bounded by
        the budget plus :data:`~spawn._process.KILL_REAP_TIMEOUT`; what is left
        then is logged.
        """
        budget = max(self.stop_budget, 0.0)
        kill_at = trio.current_time() + budget
        give_up_at = kill_at + KILL_REAP_TIMEOUT
        termed: set[int] = set()
        killed: set[int] = set()
        delay = _POLL_MIN
        while True:
            self.reap(at_once=True)  # the tree has stopped: no waiter of ours is left
            alive = unowned(child_states())
            now = trio.current_time()
            if not alive or now >= give_up_at:
                break
            late = now >= kill_at
            for pid in alive:
                if pid not in (killed if late else termed):
                    _signal(pid, signal.SIGKILL if late else signal.SIGTERM)
                    (killed if late else termed).add(pid)
            await trio.sleep_until(min(now + delay, give_up_at if late else kill_at))
            delay = min(delay * 2, _POLL_MAX)
        self.stopped += len(termed | killed)
        if killed:
            logger.warning(
                "adopted orphans %s ignored SIGTERM for %s s: killed", sorted(killed), budget
            )
        if alive:
            logger.error("adopted orphans %s still alive after SIGKILL", sorted(alive))


def _signal(pid: int, sig: int) -> None:
    """Signal an unreaped child: its pid cannot be recycled before we reap it."""
    try:
        os.kill(pid, sig)
        if sig == signal.SIGTERM:
            os.kill(pid, signal.SIGCONT)  # a stopped process would not see SIGTERM
    except ProcessLookupError:
        pass


@asynccontextmanager
async def open_reaper(
    *, stop_budget: float = 5.0, interval: float = SCAN_INTERVAL, grace: float = ZOMBIE_GRACE
) -> AsyncIterator[Reaper]:
    """Be an init for the block: a child subreaper that reaps adopted orphans as they exit.

    On entry this process becomes a child subreaper (:func:`become_subreaper`)
    and a task reaps every exited child that no :class:`~spawn.Process` owns, at
    each SIGCHLD and every ``interval`` seconds. On exit, however the block ends,
    the orphans still alive get SIGTERM (and SIGCONT), those alive after
    ``stop_budget`` seconds (``reaper.stop_budget`` as the block ends) SIGKILL,
    and all are reaped; then the subreaper setting is put back as it was. Stop
    owned children (your tree) inside the block, so that their orphans are
    stopped too.

    An exited child that nothing owns is reaped once it has stayed a zombie for
    ``grace`` seconds: a child that code here started otherwise (``subprocess``,
    ``trio.run_process``) and waits for is reaped by its own waiter first. One whose
    waiter comes later than that loses its status (``subprocess`` then reports 0):
    start such children through :mod:`spawn`, which owns them.
    Raises :class:`OSError` if the kernel refuses the subreaper setting or
    ``/proc`` is missing or of another PID namespace.

    Cancellation: the stop at exit runs shielded, bounded by ``stop_budget`` plus
    :data:`~spawn._process.KILL_REAP_TIMEOUT`. See the module's example.
    """
    if not stop_budget >= 0 or not interval > 0 or not grace >= 0:
        raise ValueError(
            f"stop_budget and grace must be >= 0 and interval > 0: {stop_budget}, {grace},"
            f" {interval}"
        )
    _check_proc()
    was_subreaper = is_subreaper()
    become_subreaper()
    reaper = Reaper(stop_budget, grace)
    caught: BaseException | None = None
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(reaper._run, interval)
            try:
                yield reaper
            except BaseException as exc:  # re-raised below, outside the nursery's group
                caught = exc
            finally:
                nursery.cancel_scope.cancel()
    finally:
        try:
            with trio.move_on_after(reaper.stop_budget + KILL_REAP_TIMEOUT + 1.0) as scope:
                scope.shield = True
                await reaper._stop_orphans()
        finally:
            if not was_subreaper:
                _set_subreaper(False)
    if caught is not None:
        raise caught
