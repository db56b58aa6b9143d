"""A pool's options: one frozen record with the defaults, and one pure pass that checks it.

:func:`~spawn.open_pool`, :func:`~spawn.open_worker_pool` and the
:class:`~spawn.Executor` take their defaults from :class:`PoolOptions` and
check what they were given with :func:`check_pool_options`, which names the
field at fault and resolves what a default leaves open (the CPU count).

>>> check_pool_options(PoolOptions(max_workers=2)).spares
1
>>> check_pool_options(PoolOptions(max_workers=2, spares=3))
Traceback (most recent call last):
...
ValueError: spares must be in 0..max_workers (2), not 3
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ._calls import CodecName
from ._channel import Coder
from ._codec import Limits
from ._template import FUNCTION_WORKER, EnvChoice


@dataclass(frozen=True)
class PoolOptions:
    """Everything :func:`~spawn.open_pool` takes, with its defaults (the only copy of them).

    ``max_workers=None`` means the CPU count; :func:`check_pool_options` resolves it.
    """

    max_workers: int | None = None
    spares: int = 1
    max_tasks: int | None = None
    max_rss: int | None = None
    idle_timeout: float = 60.0
    codec: CodecName = "msgpack"
    env: EnvChoice = "allowlist"
    cwd: str | None = None
    rlimits: Mapping[int, tuple[int, int]] | None = None
    preload: Iterable[str] = ()
    limits: Limits | None = None
    entry: str = FUNCTION_WORKER
    config: object = None
    channel_codec: Coder | None = None
    initializer: Callable[..., object] | None = None
    initargs: tuple[object, ...] = ()
    site: bool = False
    start_timeout: float = 30.0
    stop_timeout: float = 5.0
    cancel_grace: float = 0.0
    #: How long a spare's replacement waits after the spare was taken. A new interpreter
    #: takes tens of milliseconds of CPU; started at once it competes with the worker
    #: just taken (and with the work it was taken for, often a restart), which on two
    #: cores made a restart of a process actor several times slower.
    refill_delay: float = 0.025
    #: How long the rest of a frame may take once its first bytes arrived, each way: past
    #: it the reader (this process or the worker) takes the channel as broken.
    frame_timeout: float = 10.0

    @property
    def workers(self) -> int:
        """``max_workers`` once checked (the CPU count if it was left ``None``)."""
        assert self.max_workers is not None, "check_pool_options resolves max_workers"
        return self.max_workers

    def keywords(self) -> dict[str, Any]:
        """The options as keyword arguments of :func:`~spawn.open_pool`."""
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}


def check_pool_options(options: PoolOptions) -> PoolOptions:
    """Check every field of ``options``; return them with ``max_workers`` resolved.

    Raises :class:`ValueError` (:class:`TypeError` for a value of the wrong kind
    where a wrong value is a :class:`ValueError`) naming the first field at
    fault. Pure: nothing is started or imported.
    """
    workers = options.max_workers if options.max_workers is not None else (os.cpu_count() or 1)
    checked = dataclasses.replace(options, max_workers=workers)
    for field in dataclasses.fields(checked):
        problem = _VALIDATORS[field.name](getattr(checked, field.name), checked)
        if problem is not None:
            error, text = problem
            raise error(f"{field.name} {text}")
    return dataclasses.replace(
        checked, preload=tuple(checked.preload), initargs=tuple(checked.initargs)
    )


# -- one validator per field: the problem, or None ------------------------------------

Problem = tuple[type[Exception], str]
Validator = Callable[[Any, PoolOptions], Problem | None]


def _wrong_value(text: str) -> Problem:
    return ValueError, text


def _max_workers(value: object, options: PoolOptions) -> Problem | None:
    ok = isinstance(value, int) and value >= 1
    return None if ok else _wrong_value(f"must be a positive int, not {value!r}")


def _spares(value: object, options: PoolOptions) -> Problem | None:
    ok = isinstance(value, int) and 0 <= value <= options.workers
    return (
        None
        if ok
        else _wrong_value(f"must be in 0..max_workers ({options.workers}), not {value!r}")
    )


def _positive_int_or_none(value: object, options: PoolOptions) -> Problem | None:
    ok = value is None or (isinstance(value, int) and value >= 1)
    return None if ok else _wrong_value(f"must be a positive int or None, not {value!r}")


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not math.isnan(value)


def _positive(value: object, options: PoolOptions) -> Problem | None:
    ok = _is_number(value) and value > 0  # type: ignore[operator]
    return None if ok else _wrong_value(f"must be positive, not {value!r}")


def _not_negative(value: object, options: PoolOptions) -> Problem | None:
    ok = _is_number(value) and value >= 0  # type: ignore[operator]
    return None if ok else _wrong_value(f"must be >= 0, not {value!r}")


def _codec(value: object, options: PoolOptions) -> Problem | None:
    ok = value in ("msgpack", "pickle")
    return None if ok else _wrong_value(f"must be 'msgpack' or 'pickle', not {value!r}")


def _env(value: object, options: PoolOptions) -> Problem | None:
    ok = not isinstance(value, str) or value in ("allowlist", "inherit")
    return (
        None if ok else _wrong_value(f"must be 'allowlist', 'inherit' or a mapping, not {value!r}")
    )


def _entry(value: object, options: PoolOptions) -> Problem | None:
    ok = isinstance(value, str) and value != ""
    return None if ok else _wrong_value(f"must name a module, not {value!r}")


def _limits(value: object, options: PoolOptions) -> Problem | None:
    ok = value is None or isinstance(value, Limits)
    return None if ok else (TypeError, f"must be a spawn.Limits or None, not {value!r}")


def _initializer(value: object, options: PoolOptions) -> Problem | None:
    if value is not None and not callable(value):
        return TypeError, "must be a callable"
    if value is not None and options.entry != FUNCTION_WORKER:
        return _wrong_value(f"runs in function workers only, and entry is {options.entry!r}")
    return None


def _modules(value: object, options: PoolOptions) -> Problem | None:
    ok = isinstance(value, Iterable) and not isinstance(value, str)
    return None if ok else (TypeError, f"must be an iterable of module names, not {value!r}")


def _iterable(value: object, options: PoolOptions) -> Problem | None:
    ok = isinstance(value, Iterable)
    return None if ok else (TypeError, f"must be an iterable, not {value!r}")


def _anything(value: object, options: PoolOptions) -> Problem | None:
    return None


_VALIDATORS: dict[str, Validator] = {
    "max_workers": _max_workers,
    "spares": _spares,
    "max_tasks": _positive_int_or_none,
    "max_rss": _positive_int_or_none,
    "idle_timeout": _positive,
    "codec": _codec,
    "env": _env,
    "cwd": _anything,
    "rlimits": _anything,
    "preload": _modules,
    "limits": _limits,
    "entry": _entry,
    "config": _anything,
    "channel_codec": _anything,
    "initializer": _initializer,
    "initargs": _iterable,
    "site": _anything,
    "start_timeout": _positive,
    "stop_timeout": _not_negative,
    "cancel_grace": _not_negative,
    "refill_delay": _not_negative,
    "frame_timeout": _positive,
}
