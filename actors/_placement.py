"""Where an actor runs: a task here, a dedicated worker process, or a named shared worker.

A worker process can be started with options of its own (:class:`WorkerOptions`):
resource limits and extra environment applied before any of the actor's code is
imported, and the time it has to start.

>>> import resource
>>> WorkerOptions(rlimits={resource.RLIMIT_CORE: (0, 0)}, env={"MODE": "strict"})
WorkerOptions(rlimits={4: (0, 0)}, env={'MODE': 'strict'}, start_timeout=None)
>>> WorkerOptions(start_timeout=0)
Traceback (most recent call last):
...
ValueError: WorkerOptions: start_timeout must be a number > 0 or None, not 0
"""

from __future__ import annotations

import dataclasses
import math
import resource
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from spawn import function_ref

from ._exceptions import NoHostLoop
from ._wire import encoding_codec

#: The event loop of a worker process.
Loop = Literal["trio", "uvloop"]
_RESOURCES = frozenset(getattr(resource, n) for n in dir(resource) if n.startswith("RLIMIT_"))


@dataclass(frozen=True, slots=True, repr=False)
class WorkerOptions:
    """How a worker process that hosts actors is started.

    ``rlimits`` maps a ``resource.RLIMIT_*`` to ``(soft, hard)``, set in the
    worker before the actor's module is imported; ``env`` holds variables added
    to the worker's allowlisted environment; ``start_timeout`` is how long the
    worker has to start and say hello (``None``: the runtime's, 30 s by default).
    A worker that does not is a failed start (:class:`~actors.InitError`).
    ``loop`` is the worker's event loop: ``"trio"`` (``trio.run``) or ``"uvloop"``
    (trio as the guest of uvloop, :func:`~actors.run_on_uvloop`), which hosts
    :class:`~actors.AsyncioActor` beside trio actors. ``None`` chooses: uvloop for
    an asyncio actor in a worker of its own, trio otherwise (a shared worker that
    hosts an asyncio actor must say ``loop="uvloop"``).

    Given to ``open_runtime`` they are the defaults of every process actor; given
    for one actor, its entries are added to those (its own win) and its
    ``start_timeout``, if set, replaces the runtime's. Workers, warm spares
    included, are never shared between two sets of options.
    """

    rlimits: Mapping[int, tuple[int, int]] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    start_timeout: float | None = None
    loop: Loop | None = None

    def __post_init__(self) -> None:
        problem = _rlimits_problem(self.rlimits) or _env_problem(self.env)
        timeout = self.start_timeout
        if problem is None and timeout is not None and not _positive(timeout):
            problem = f"start_timeout must be a number > 0 or None, not {timeout!r}"
        if problem is None and self.loop not in (None, "trio", "uvloop"):
            problem = f'loop must be "trio", "uvloop" or None, not {self.loop!r}'

        if problem is not None:
            raise (TypeError if problem.startswith("type:") else ValueError)(
                f"WorkerOptions: {problem.removeprefix('type:')}"
            )
        limits = {int(k): (int(v[0]), int(v[1])) for k, v in self.rlimits.items()}
        object.__setattr__(self, "rlimits", MappingProxyType(dict(sorted(limits.items()))))
        object.__setattr__(self, "env", MappingProxyType(dict(sorted(self.env.items()))))

    def __hash__(self) -> int:
        items = (tuple(self.rlimits.items()), tuple(self.env.items()))
        return hash((*items, self.start_timeout, self.loop))

    def __repr__(self) -> str:
        loop = "" if self.loop is None else f", loop={self.loop!r}"
        return (
            f"WorkerOptions(rlimits={dict(self.rlimits)!r}, env={dict(self.env)!r}, "
            f"start_timeout={self.start_timeout!r}{loop})"
        )

    def over(self, defaults: WorkerOptions) -> WorkerOptions:
        """These options on top of ``defaults``: entries added (ours win); the timeout and
        the loop replaced when set here."""
        timeout = defaults.start_timeout if self.start_timeout is None else self.start_timeout
        return WorkerOptions(
            {**defaults.rlimits, **self.rlimits},
            {**defaults.env, **self.env},
            timeout,
            defaults.loop if self.loop is None else self.loop,
        )


def _positive(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )


def _limit(value: object) -> bool:
    return (
        isinstance(value, int)
        and not isinstance(value, bool)
        and (value >= 0 or value == resource.RLIM_INFINITY)
    )


def _rlimits_problem(rlimits: object) -> str | None:
    if not isinstance(rlimits, Mapping):
        return f"type:rlimits must be a mapping of RLIMIT_* to (soft, hard), not {rlimits!r}"
    for which, pair in rlimits.items():
        if isinstance(which, bool) or which not in _RESOURCES:
            return f"rlimits: {which!r} is not a resource.RLIMIT_* constant"
        ok = isinstance(pair, tuple | list) and len(pair) == 2 and all(map(_limit, pair))
        if not ok:
            return f"rlimits[{which}] must be (soft, hard) ints >= 0 or RLIM_INFINITY, not {pair!r}"
        soft, hard = pair
        if hard != resource.RLIM_INFINITY and (soft == resource.RLIM_INFINITY or soft > hard):
            return f"rlimits[{which}]: the soft limit {soft} is above the hard limit {hard}"
    return None


def _env_problem(env: object) -> str | None:
    if not isinstance(env, Mapping):
        return f"type:env must be a mapping of str to str, not {env!r}"
    for key, value in env.items():
        if not isinstance(key, str) or not key or "=" in key or "\0" in key:
            return f"env: {key!r} is not a variable name (a non-empty str without '=')"
        if not isinstance(value, str) or "\0" in value:
            return f"env[{key!r}] must be a str without NUL, not {value!r}"
    return None


@dataclass(frozen=True, slots=True)
class SharedWorker:
    """Run the actor in the worker process called ``name``, with the others placed there.

    ``options`` are that worker's (:class:`WorkerOptions`); every actor placed
    in it must name the same ones.
    """

    name: str
    options: WorkerOptions | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"a shared worker's name is a non-empty str, not {self.name!r}")
        if self.options is not None and not isinstance(self.options, WorkerOptions):
            raise TypeError(f"a shared worker's options are WorkerOptions, not {self.options!r}")


Placement = Literal["task", "process"] | SharedWorker


def worker_loop(asyncio_actor: bool, placement: Placement, options: WorkerOptions) -> WorkerOptions:
    """``options`` with the loop an actor's worker runs (see :class:`WorkerOptions`).

    Raises :class:`~actors.NoHostLoop` when an asyncio actor is placed on a trio worker.
    """
    if not asyncio_actor:
        return options
    if options.loop is None and placement == "process":
        return dataclasses.replace(options, loop="uvloop")
    if options.loop != "uvloop":
        where = "its worker" if placement == "process" else f"shared worker {placement!r}"
        raise NoHostLoop(
            f"an AsyncioActor needs a worker on uvloop: {where} runs trio; give it "
            'WorkerOptions(loop="uvloop")'
        )
    return options


def check_placement(placement: object) -> Placement:
    """``placement`` if it is one, else a :class:`TypeError` that lists the choices."""
    if placement in ("task", "process") or isinstance(placement, SharedWorker):
        return placement
    raise TypeError(f'placement is "task", "process" or SharedWorker(name), not {placement!r}')


def placed_options(placement: Placement, options: WorkerOptions | None) -> WorkerOptions | None:
    """The options an actor asked for with ``placement``; :class:`ValueError` if misplaced.

    ``options`` go with ``"process"``; a shared worker carries its own.
    """
    if options is not None and not isinstance(options, WorkerOptions):
        raise TypeError(f"worker_options are WorkerOptions or None, not {options!r}")
    if isinstance(placement, SharedWorker):
        if options is not None:
            raise ValueError(
                "a shared worker's options go on SharedWorker(name, options=...), "
                "not in worker_options"
            )
        return placement.options or WorkerOptions()
    if placement == "task":
        if options is not None:
            raise ValueError('worker_options need placement="process" (or a SharedWorker)')
        return None
    return options or WorkerOptions()


def check_placeable(cls: type, args: Sequence[object]) -> tuple[str, str]:
    """Whether ``cls(*args)`` can start in a worker process: the ``(module, qualname)`` of ``cls``.

    Raises :class:`~spawn.NotByReference` if a worker cannot import ``cls`` (a
    class defined in ``__main__`` of a script run by path, or a local class),
    :class:`~spawn.EncodeError` if ``args`` cannot travel. Nothing is started.

    >>> from actors import Actor
    >>> check_placeable(Actor, (1, "two"))
    ('actors._behaviour', 'Actor')
    >>> check_placeable(Actor, ({1},))
    Traceback (most recent call last):
    ...
    spawn._exceptions.EncodeError: the argument 1 of ...Actor.init cannot be sent: a set ...
    """
    ref = function_ref(cls)
    codec = encoding_codec()
    for index, arg in enumerate(args, 1):
        codec.encode(arg, what=f"the argument {index} of {ref[0]}.{ref[1]}.init")
    return ref
