"""Spawn templates: everything about starting a process, prepared once, reused per spawn.

A :class:`SpawnTemplate` is a frozen record of argv, environment, fds to hand
over, resource limits and modules to preload. :meth:`SpawnTemplate.spawn`
starts one process from it with ``os.posix_spawn`` (glibc: ``clone(CLONE_VM |
CLONE_VFORK)``, so its cost does not grow with the parent's size):

- the file actions dup the fds to hand over into place, open ``/dev/null`` as
  stdin, and close every other fd the parent holds as inheritable, so a child
  holds exactly fds 0, 1, 2 and the ones it was given;
- ``setsigmask=()`` and ``setsigdef`` for every catchable signal undo what
  Python and the parent changed (Python ignores SIGPIPE and SIGXFSZ);
- the child gets its own process group, so a Ctrl-C in a terminal reaches only
  the parent, which owns shutdown.

>>> import os, sys
>>> template = SpawnTemplate.program([sys.executable, "-I", "-S", "-c", "pass"], env={})
>>> pid = template.spawn()
>>> os.waitpid(pid, 0)[1]
0
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Final, Literal

#: The worker bootstrap, run as a file so that it imports nothing of ours.
BOOTSTRAP: Final = str(Path(__file__).with_name("_bootstrap.py"))
#: The entry module of a worker that runs plain functions (no event loop).
FUNCTION_WORKER: Final = "spawn._fnworker"
#: The bootstrap's first argument that makes it the exec shim of a program child.
EXEC_MODE: Final = "exec"
#: The fd on which a worker finds its channel.
CHANNEL_FD: Final = 3

#: Variables an allowlisted environment keeps, when the parent has them (plus ``LC_*``).
ALLOWLIST: Final = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR")
#: Loader variables an inherited environment drops: they inject code into every process.
LOADER_VARIABLES: Final = frozenset(
    {
        "LD_PRELOAD",
        "LD_AUDIT",
        "LD_DEBUG",
        "LD_DEBUG_OUTPUT",
        "LD_PROFILE",
        "LD_PROFILE_OUTPUT",
        "LD_SHOW_AUXV",
        "LD_DYNAMIC_WEAK",
    }
)

#: Variables that speak to the service manager of *this* process (sd_notify, socket
#: activation): no child may inherit them, or it could talk for us.
SERVICE_VARIABLES: Final = frozenset(
    {"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"}
)

_UNCATCHABLE: Final = {signal.SIGKILL, signal.SIGSTOP}

#: A pool's ``env``: an allowlisted environment, the parent's, or this one.
EnvChoice = Literal["allowlist", "inherit"] | Mapping[str, str]


def allowlisted_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The default environment of a worker: :data:`ALLOWLIST` and ``LC_*`` from ``environ``."""
    source = os.environ if environ is None else environ
    return {k: v for k, v in source.items() if k in ALLOWLIST or k.startswith("LC_")}


def inherited_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The parent's environment minus :data:`LOADER_VARIABLES`, as multiprocessing passes it.

    ``LD_LIBRARY_PATH`` stays: extension modules of the parent may need it.
    """
    source = os.environ if environ is None else environ
    return {k: v for k, v in source.items() if k not in LOADER_VARIABLES}


def without_service_variables(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` minus :data:`SERVICE_VARIABLES`: what any child of ours may see.

    Every :class:`SpawnTemplate` applies it to its environment, whatever built it.

    >>> without_service_variables({"PATH": "/bin", "NOTIFY_SOCKET": "@sd", "LISTEN_FDS": "1"})
    {'PATH': '/bin'}
    """
    return {k: v for k, v in env.items() if k not in SERVICE_VARIABLES}


def chosen_env(choice: EnvChoice) -> dict[str, str]:
    """The environment ``choice`` stands for, taken from this process's now."""
    if choice == "allowlist":
        return allowlisted_env()
    if choice == "inherit":
        return inherited_env()
    return dict(choice)


def _frozen_map(mapping: Mapping[object, object]) -> MappingProxyType[object, object]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True, eq=False)
class SpawnTemplate:
    """How to start a process; build one with :meth:`program` or :meth:`worker`.

    ``fds`` maps an fd number in the child to an fd of the parent handed over at
    every spawn; :meth:`spawn` takes more for one spawn (a worker's channel).
    ``rlimits``, ``preload``, ``entry``, ``config`` and ``cwd`` are applied by the
    worker bootstrap, so they need a worker template (``entry`` set).
    """

    argv: tuple[str, ...]
    env: Mapping[str, str]
    fds: Mapping[int, int] = field(default_factory=dict)
    cwd: str | None = None
    rlimits: Mapping[int, tuple[int, int]] = field(default_factory=dict)
    preload: tuple[str, ...] = ()
    entry: str | None = None
    config: object = None
    null_stdin: bool = True
    process_group: bool = True
    _env_list: dict[str, str] = field(init=False, repr=False)
    _sigdef: tuple[int, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.argv or not os.path.isabs(self.argv[0]):
            raise ValueError(f"argv[0] must be an absolute path, not {self.argv[:1]!r}")
        for name in ("env", "fds", "rlimits"):
            object.__setattr__(self, name, _frozen_map(getattr(self, name)))
        object.__setattr__(self, "argv", tuple(self.argv))
        object.__setattr__(self, "preload", tuple(self.preload))
        if self.entry is None and (self.rlimits or self.preload or self.cwd is not None):
            raise ValueError(
                "rlimits, preload and cwd are applied by the worker bootstrap; for an external "
                "program, SpawnTemplate.program(cwd=...) changes directory in its exec shim"
            )
        if self.entry is not None and CHANNEL_FD in self.fds:
            raise ValueError(f"fd {CHANNEL_FD} is a worker's channel; hand fds over elsewhere")
        for target, source in self.fds.items():
            if target < 0 or source < 0:
                raise ValueError(f"fd numbers must not be negative: {target} <- {source}")
        object.__setattr__(self, "env", MappingProxyType(without_service_variables(self.env)))
        object.__setattr__(self, "_env_list", dict(self.env))
        sigdef = tuple(sorted(s for s in signal.valid_signals() if s not in _UNCATCHABLE))
        object.__setattr__(self, "_sigdef", sigdef)

    @classmethod
    def program(
        cls,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        fds: Mapping[int, int] | None = None,
        null_stdin: bool = True,
        cwd: str | None = None,
        die_with_parent: bool = False,
    ) -> SpawnTemplate:
        """A template for an external program (argv[0] an absolute path).

        With ``cwd`` or ``die_with_parent`` the program starts through the exec shim
        (``python -I -S`` running the bootstrap in its ``exec`` mode, stdlib only):
        it arms the parent-death signal (SIGKILL when the thread that spawned it
        exits: spawn from a thread that lives as long as the child should), exits at
        once if this process is already gone, changes to ``cwd``, then calls ``execve`` on
        the program with the environment given here, unchanged.
        """
        argv = tuple(argv)
        if not argv or not os.path.isabs(argv[0]):
            raise ValueError(f"argv[0] must be an absolute path, not {argv[:1]!r}")
        if cwd is not None or die_with_parent:
            ppid = str(os.getpid()) if die_with_parent else "0"
            # Python coerces a C locale by setting LC_CTYPE: tell the shim what it was.
            ctype = "=" + env["LC_CTYPE"] if "LC_CTYPE" in env else "-"
            shim = (sys.executable, "-I", "-S", BOOTSTRAP, EXEC_MODE, ppid, cwd or "", ctype)
            argv = (*shim, argv[0], *argv)
        return cls(argv, env, fds or {}, null_stdin=null_stdin)

    @classmethod
    def worker(
        cls,
        entry: str = FUNCTION_WORKER,
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        fds: Mapping[int, int] | None = None,
        rlimits: Mapping[int, tuple[int, int]] | None = None,
        preload: Iterable[str] = (),
        config: object = None,
        site: bool = False,
    ) -> SpawnTemplate:
        """A template for a worker: ``python -I -S`` running the bootstrap, then ``entry``.

        ``env`` defaults to :func:`allowlisted_env`. ``site=True`` drops ``-S``, for
        the rare install whose import hooks live in ``.pth`` files (the parent's
        ``sys.path`` reaches every worker either way). ``config`` must be a value
        :mod:`marshal` can carry; the entry's ``main(fd, config)`` receives it.
        """
        flags = ("-I",) if site else ("-I", "-S")
        return cls(
            (sys.executable, *flags, BOOTSTRAP),
            allowlisted_env() if env is None else env,
            fds or {},
            cwd=cwd,
            rlimits=rlimits or {},
            preload=tuple(preload),
            entry=entry,
            config=config,
        )

    def spawn(self, handover: Mapping[int, int] | None = None) -> int:
        """Start one process; return its pid. The caller owns the child and must reap it.

        ``handover`` maps fds of the child to fds of the parent for this spawn only.
        Raises :class:`OSError` if ``posix_spawn`` fails.
        """
        fds = {**self.fds, **(handover or {})}
        kwargs: dict[str, object] = {}
        if self.process_group:
            kwargs["setpgroup"] = 0
        return os.posix_spawn(
            self.argv[0],
            self.argv,
            self._env_list,
            file_actions=_file_actions(fds, self.null_stdin),
            setsigmask=(),
            setsigdef=self._sigdef,
            **kwargs,  # type: ignore[arg-type]
        )


def _file_actions(fds: Mapping[int, int], null_stdin: bool) -> list[tuple[object, ...]]:
    """Dup ``fds`` into place (safe when sources and targets overlap), close the rest."""
    actions: list[tuple[object, ...]] = []
    scratch = max([*fds, *fds.values(), 2]) + 1
    moved: dict[int, int] = {}
    for target, source in fds.items():
        if source in fds and source != target:
            actions.append((os.POSIX_SPAWN_DUP2, source, scratch))
            moved[target] = scratch
            scratch += 1
    for target, source in fds.items():
        actions.append((os.POSIX_SPAWN_DUP2, moved.get(target, source), target))
    actions.extend((os.POSIX_SPAWN_CLOSE, fd) for fd in moved.values())
    if null_stdin and 0 not in fds:
        actions.append((os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0))
    keep = {0, 1, 2, *fds}
    actions.extend((os.POSIX_SPAWN_CLOSE, fd) for fd in inheritable_fds() if fd not in keep)
    return actions


def inheritable_fds() -> list[int]:
    """The parent's fds that would survive an exec (listed from ``/proc/self/fd``)."""
    found = []
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        try:
            if os.get_inheritable(fd):
                found.append(fd)
        except OSError:  # the fd listdir itself used, already closed
            continue
    return found
