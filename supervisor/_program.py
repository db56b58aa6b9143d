"""Program children: an external command as a child of a supervisor, beside actors.

``program(id, argv)`` is a child spec. Its actor (a task) starts the program in
its own process group, with stdin on ``/dev/null``, every fd but 0, 1 and 2
closed, the parent-death signal armed, and forwards each line of its stdout and
stderr to the logger ``supervisor.program``. Its exit is the child's exit: status
0 is :data:`~actors.NORMAL`; another status, or a signal, is a crash with
:class:`ProgramExited`; an exit after our own stop signal is a shutdown, whatever
its status. Stopping it signals its process group with ``stop_signal``, waits the
``shutdown`` budget, then sends SIGKILL; however the child ends, no process of the
group is left and the program is reaped.

>>> import trio
>>> from actors import open_runtime
>>> from supervisor import Supervisor, open_tree, program, program_pid
>>> async def main() -> None:
...     async with open_runtime() as runtime:
...         spec = Supervisor(children=[program("sleeper", ["sleep", "60"], shutdown=2.0)])
...         async with open_tree(spec, runtime=runtime) as root:
...             pid = await program_pid(root.child("sleeper"))
...             print(os.getpgid(pid) == pid)
...         # leaving the tree stopped it: SIGTERM to its group, reaped
>>> import os
>>> trio.run(main)
True
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import trio

from actors import NORMAL, Actor, ActorRef, Caller, CallResult, InfoResult, NoReply, Reply, Stop
from spawn import ProgramChild

from ._check import check_child
from ._exceptions import InvalidSpec, ProgramExited
from ._handles import ChildAddress
from ._spec import (
    BRUTAL_KILL,
    DEFAULT_WORKER_SHUTDOWN,
    INFINITY,
    Backoff,
    ChildSpec,
    Restart,
    ShutdownPolicy,
)

logger = logging.getLogger("supervisor.program")

#: The longest output line logged as one record; longer lines come in pieces.
MAX_LINE: Final = ProgramChild.MAX_LINE
_PID: Final = "program: pid"


@dataclass(frozen=True, slots=True)
class _Config:
    child_id: str
    argv: tuple[str, ...]
    env: Mapping[str, str] | None
    cwd: str | None
    stop_signal: signal.Signals
    budget: float
    max_line: int


def program(
    id: str,
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    stop_signal: int = signal.SIGTERM,
    shutdown: ShutdownPolicy = DEFAULT_WORKER_SHUTDOWN,
    restart: Restart = Restart.PERMANENT,
    max_line: int = MAX_LINE,
    significant: bool = False,
    backoff: Backoff | None = None,
) -> ChildSpec:
    """A child spec: the external command ``argv``, supervised like any worker child.

    ``argv[0]`` may be a bare name, found on ``PATH`` (``env``'s, if it has one)
    now; a relative path is taken from ``cwd``. A program that cannot be found is
    :class:`InvalidSpec`, raised here. The environment is ``env`` if given, else
    this process's at each start; either way the variables of the service manager
    (``NOTIFY_SOCKET``, ``WATCHDOG_*``, ``LISTEN_*``) are removed. ``cwd`` is the
    program's working directory (default: ours). On a stop the process group gets
    ``stop_signal``; whatever is left of it at the end of ``shutdown`` seconds gets
    SIGKILL (:data:`BRUTAL_KILL`: at once). Output lines longer than ``max_line``
    bytes are logged in pieces of that size.
    """
    config = _Config(
        id,
        _resolve(id, argv, env, cwd),
        _env(id, env),
        None if cwd is None else os.path.abspath(cwd),
        _signal(id, stop_signal),
        _budget(id, shutdown),
        _max_line(id, max_line),
    )
    spec = ChildSpec(
        id,
        _Program,
        args=(config,),
        restart=restart,
        shutdown=shutdown,
        significant=significant,
        backoff=backoff,
    )
    check_child(spec)
    return spec


async def program_pid(child: ActorRef | ChildAddress) -> int:
    """The pid of the program that ``child`` (a program child) runs now.

    It is also the id of the program's process group.
    """
    pid = await child.call(_PID)
    assert isinstance(pid, int)
    return pid


# -- the spec's checks --------------------------------------------------------------


def _resolve(
    id: str, argv: Sequence[str], env: Mapping[str, str] | None, cwd: str | os.PathLike[str] | None
) -> tuple[str, ...]:
    if isinstance(argv, str | bytes) or not argv or not all(isinstance(a, str) for a in argv):
        raise InvalidSpec(id, "argv", f"must be a non-empty list of str, not {argv!r}")
    name = argv[0]
    search = (os.environ if env is None or "PATH" not in env else env).get("PATH")
    if os.sep in name and not os.path.isabs(name) and cwd is not None:
        name = os.path.join(os.fspath(cwd), name)
    found = shutil.which(name, path=search)
    if found is None:
        raise InvalidSpec(id, "argv", f"no program {argv[0]!r} found (or not executable)")
    return (os.path.abspath(found), *argv[1:])


def _env(id: str, env: Mapping[str, str] | None) -> Mapping[str, str] | None:
    if env is None:
        return None
    if not isinstance(env, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in env.items()
    ):
        raise InvalidSpec(id, "env", f"must map str to str, not {env!r}")
    return dict(env)


def _signal(id: str, value: object) -> signal.Signals:
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return signal.Signals(value)
        except ValueError:
            pass
    raise InvalidSpec(id, "stop_signal", f"must be a signal, not {value!r}")


def _budget(id: str, shutdown: object) -> float:
    if shutdown is BRUTAL_KILL:
        return 0.0
    if shutdown is INFINITY:
        return math.inf
    if isinstance(shutdown, int | float) and not isinstance(shutdown, bool) and shutdown >= 0:
        return float(shutdown)
    raise InvalidSpec(
        id, "shutdown", f"must be seconds >= 0, BRUTAL_KILL or INFINITY, not {shutdown!r}"
    )


def _max_line(id: str, value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    raise InvalidSpec(id, "max_line", f"must be an int >= 1, not {value!r}")


# -- the actor ----------------------------------------------------------------------


class _Exited:
    __slots__ = ()


_EXITED: Final = _Exited()


class _Program(Actor):
    """Starts the program in init; an owned task forwards its output and waits for its exit.

    Its stop ladder runs where the task is cancelled, shielded: while a stop was
    asked for (the actor is no longer alive), ``stop_signal`` and the budget; when
    the actor is killed, or its runtime torn down, SIGKILL at once.
    """

    async def init(self, config: _Config) -> None:
        self.config = config
        env = dict(os.environ) if config.env is None else config.env
        self.child = ProgramChild.start(
            config.argv, env=env, cwd=config.cwd, max_line=config.max_line
        )
        self.start_soon(self._run, name=f"program {config.child_id}[{self.child.pid}]")

    async def _run(self) -> None:
        child, config = self.child, self.config
        try:
            code = await child.serve(self._log)
        finally:
            if child.returncode is None:
                budget = 0.0 if self.runtime.is_alive(self.ref) else config.budget
                with trio.CancelScope(shield=True):
                    await child.stop(config.stop_signal, budget, self._log)
        if not self.runtime.is_alive(self.ref):
            return  # it exited while we stop it: a shutdown, whatever its status
        if code != 0:
            raise ProgramExited(code, config.argv[0])
        self.ref.send_nowait(_EXITED)

    def _log(self, stream: str, line: bytes) -> None:
        if not logger.isEnabledFor(logging.INFO):
            return
        child_id, pid = self.config.child_id, self.child.pid
        text = line.decode("utf-8", "replace")
        extra = {"child_id": child_id, "stream": stream, "pid": pid}
        logger.info("%s[%d] %s: %s", child_id, pid, stream, text, extra=extra)

    async def handle_call(self, request: Any, caller: Caller) -> CallResult:
        if request == _PID:
            return Reply(self.child.pid)
        raise ValueError(f"a program child answers no {request!r}")

    async def handle_info(self, message: Any) -> InfoResult:
        if message is _EXITED:
            return Stop(NORMAL)
        return NoReply()
