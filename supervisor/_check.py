"""The spec check: one pure pass, one validator per field, defaults resolved in one place.

>>> from supervisor import Supervisor, check_supervisor
>>> check_supervisor(Supervisor(intensity=-1))
Traceback (most recent call last):
...
supervisor._exceptions.InvalidSpec: supervisor flags: intensity: must be an int >= 0, not -1
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any

from actors import (
    Actor,
    AsyncioActor,
    SharedWorker,
    WorkerOptions,
    check_durability,
    check_placeable,
    check_placement,
)
from spawn import EncodeError, NotByReference

from ._exceptions import InvalidSpec
from ._siblings import Sibling
from ._spec import (
    DEFAULT_WORKER_SHUTDOWN,
    INFINITY,
    AutoShutdown,
    Backoff,
    ChildKind,
    ChildSpec,
    Restart,
    ShutdownMode,
    Strategy,
    Supervisor,
)

# A validator returns its problem as text (None: fine).
Validator = Callable[[Any], str | None]


def check_supervisor(spec: Supervisor) -> Supervisor:
    """Check ``spec`` and its children (nested supervisors too); return it with defaults resolved.

    Raises :class:`InvalidSpec` naming the child and the field.
    """
    if not isinstance(spec, Supervisor):
        raise InvalidSpec(None, "spec", f"expected a Supervisor, not {spec!r}")
    _check_fields(spec, _FLAG_VALIDATORS, None)
    children = _check_children(spec)
    check_shared_workers(children)
    return dataclasses.replace(spec, period=float(spec.period), children=children)


def check_child(spec: ChildSpec) -> ChildSpec:
    """Check one child spec; return it with its shutdown default resolved."""
    if not isinstance(spec, ChildSpec):
        raise InvalidSpec(None, "children", f"expected a ChildSpec, not {spec!r}")
    child_id = spec.id if isinstance(spec.id, str) else repr(spec.id)
    _check_fields(spec, _CHILD_VALIDATORS, child_id)
    if spec.significant and spec.restart is Restart.PERMANENT:
        raise InvalidSpec(child_id, "significant", "a significant child cannot be permanent")
    if isinstance(spec.start, Supervisor) and spec.placement != "task":
        raise InvalidSpec(child_id, "placement", "a supervisor runs in the root process")
    _check_worker_options(spec, child_id)
    if spec.placement != "task":
        _check_placeable(spec, child_id)
        _check_loop(spec, child_id)
    start = spec.start
    if isinstance(start, Supervisor):
        try:
            start = check_supervisor(start)
        except InvalidSpec as exc:
            inner = exc.child_id
            path = child_id if inner is None else f"{child_id}/{inner}"
            raise InvalidSpec(path, exc.field, exc.problem) from exc
    return dataclasses.replace(
        spec, start=start, args=tuple(spec.args), shutdown=_default_shutdown(spec)
    )


def _check_children(spec: Supervisor) -> tuple[ChildSpec, ...]:
    if spec.strategy is Strategy.SIMPLE_ONE_FOR_ONE and len(spec.children) != 1:
        raise InvalidSpec(
            None,
            "children",
            f"a simple_one_for_one supervisor has exactly one child spec, not {len(spec.children)}",
        )
    checked: list[ChildSpec] = []
    seen: set[str] = set()
    for child in spec.children:
        child = check_child(child)
        if spec.strategy is Strategy.SIMPLE_ONE_FOR_ONE and child.backoff is not None:
            raise InvalidSpec(child.id, "backoff", "a simple_one_for_one template takes no backoff")
        if child.id in seen:
            raise InvalidSpec(child.id, "id", "duplicate child id")
        seen.add(child.id)
        checked.append(child)
    for child in checked:
        _check_siblings(child, seen)
    return tuple(checked)


def _check_siblings(child: ChildSpec, ids: set[str]) -> None:
    """A ``Sibling`` in a child's args names another child here."""
    for arg in child.args:
        if isinstance(arg, Sibling) and (arg.id not in ids or arg.id == child.id):
            raise InvalidSpec(child.id, "args", f"{arg!r} names no other child")


def _check_worker_options(spec: ChildSpec, child_id: str) -> None:
    """``worker_options`` go with ``placement="process"`` only."""
    if spec.worker_options is None or spec.placement == "process":
        return
    if isinstance(spec.placement, SharedWorker):
        problem = "a shared worker's options go on SharedWorker(name, options=...)"
    else:
        problem = 'worker options need placement="process"'
    raise InvalidSpec(child_id, "worker_options", problem)


def _check_loop(spec: ChildSpec, child_id: str) -> None:
    """An asyncio child placed in a process needs a worker on uvloop (a task's root loop is
    known only at start: its spawn fails there if the tree runs under plain ``trio.run``)."""
    if not (isinstance(spec.start, type) and issubclass(spec.start, AsyncioActor)):
        return
    if isinstance(spec.placement, SharedWorker):
        loop = (spec.placement.options or WorkerOptions()).loop
        fine = loop == "uvloop"
    else:
        fine = spec.worker_options is None or spec.worker_options.loop != "trio"
    if not fine:
        raise InvalidSpec(
            child_id,
            "placement",
            'an AsyncioActor needs a worker on uvloop: give it WorkerOptions(loop="uvloop")',
        )


def _check_placeable(spec: ChildSpec, child_id: str) -> None:
    """A process child's class is importable by reference and its args can travel."""
    for arg in spec.args:
        if isinstance(arg, Sibling):
            raise InvalidSpec(
                child_id, "args", f"{arg!r}: a sibling's address cannot travel to another process"
            )
    assert isinstance(spec.start, type), "a supervisor child was refused its placement"
    try:
        check_placeable(spec.start, spec.args)
    except NotByReference as exc:
        raise InvalidSpec(child_id, "start", f"a worker process cannot import it: {exc}") from exc
    except EncodeError as exc:
        raise InvalidSpec(child_id, "args", f"cannot travel to a worker process: {exc}") from exc


def check_shared_workers(children: Sequence[ChildSpec]) -> None:
    """Every child placed in one shared worker names the same options (nested children too).

    Raises :class:`InvalidSpec` naming the child (by its path) and the one before it.
    """
    _check_shared(children, "", {})


def _check_shared(
    children: Sequence[ChildSpec], path: str, seen: dict[str, tuple[str, WorkerOptions]]
) -> None:
    for child in children:
        child_path = f"{path}{child.id}"
        if isinstance(child.start, Supervisor):
            _check_shared(child.start.children, f"{child_path}/", seen)
            continue
        placement = child.placement
        if not isinstance(placement, SharedWorker):
            continue
        options = placement.options or WorkerOptions()
        first, known = seen.setdefault(placement.name, (child_path, options))
        if known != options:
            raise InvalidSpec(
                child_path,
                "placement",
                f"shared worker {placement.name!r} is given {options} here "
                f"and {known} by child {first!r}",
            )


def _default_shutdown(spec: ChildSpec) -> float | ShutdownMode:
    if spec.shutdown is None:
        return INFINITY if spec.kind is ChildKind.SUPERVISOR else DEFAULT_WORKER_SHUTDOWN
    if isinstance(spec.shutdown, ShutdownMode):
        return spec.shutdown
    return float(spec.shutdown)


def _check_fields(record: object, validators: dict[str, Validator], child_id: str | None) -> None:
    for field in dataclasses.fields(record):  # type: ignore[arg-type]
        problem = validators[field.name](getattr(record, field.name))
        if problem is not None:
            raise InvalidSpec(child_id, field.name, problem)


# -- one validator per field ------------------------------------------------------


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _enum(cls: type) -> Validator:
    def check(value: object) -> str | None:
        return None if isinstance(value, cls) else f"must be a {cls.__name__}, not {value!r}"

    return check


def _intensity(value: object) -> str | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
    return None if ok else f"must be an int >= 0, not {value!r}"


def _positive(value: object) -> str | None:
    return None if _is_number(value) and value > 0 else f"must be a number > 0, not {value!r}"  # type: ignore[operator]


def _children(value: object) -> str | None:
    ok = isinstance(value, Sequence) and not isinstance(value, str)
    return None if ok else f"must be a sequence of ChildSpec, not {value!r}"


def _id(value: object) -> str | None:
    if not isinstance(value, str) or not value:
        return f"must be a non-empty str, not {value!r}"
    return "must not contain '/' (it separates a path's parts)" if "/" in value else None


def _start(value: object) -> str | None:
    if isinstance(value, Supervisor) or (isinstance(value, type) and issubclass(value, Actor)):
        return None
    return f"must be an actors.Actor subclass or a Supervisor, not {value!r}"


def _args(value: object) -> str | None:
    return None if isinstance(value, tuple | list) else f"must be a tuple, not {value!r}"


def _shutdown(value: object) -> str | None:
    if value is None or isinstance(value, ShutdownMode):
        return None
    if _is_number(value) and value > 0:  # type: ignore[operator]
        return None
    return f"must be seconds > 0, BRUTAL_KILL or INFINITY, not {value!r}"


def _bool(value: object) -> str | None:
    return None if isinstance(value, bool) else f"must be a bool, not {value!r}"


def _backoff(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, Backoff):
        return f"must be a Backoff or None, not {value!r}"
    if not (_is_number(value.minimum) and value.minimum > 0):
        return f"minimum must be a number > 0, not {value.minimum!r}"
    if not (_is_number(value.maximum) and value.maximum >= value.minimum):
        return f"maximum must be a number >= minimum, not {value.maximum!r}"
    if not (_is_number(value.random_factor) and value.random_factor >= 0):
        return f"random_factor must be a number >= 0, not {value.random_factor!r}"
    reset = value.reset_after
    if reset is not None and not (_is_number(reset) and reset > 0):
        return f"reset_after must be a number > 0 or None, not {reset!r}"
    if _is_size(value.stash_size, minimum=0):
        return None
    return f"stash_size must be an int >= 0, not {value.stash_size!r}"


def _is_size(value: object, *, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _mailbox_size(value: object) -> str | None:
    if value is None or _is_size(value, minimum=1):
        return None
    return f"must be an int >= 1 or None, not {value!r}"


def _worker_options(value: object) -> str | None:
    if value is None or isinstance(value, WorkerOptions):
        return None
    return f"must be actors.WorkerOptions or None, not {value!r}"


def _durability(value: object) -> str | None:
    try:
        if value is not None:
            check_durability(value)
    except TypeError as exc:
        return str(exc)
    return None


def _placement(value: object) -> str | None:
    try:
        check_placement(value)
    except TypeError as exc:
        return str(exc)
    return None


_FLAG_VALIDATORS: dict[str, Validator] = {
    "strategy": _enum(Strategy),
    "intensity": _intensity,
    "period": _positive,
    "auto_shutdown": _enum(AutoShutdown),
    "children": _children,
}

_CHILD_VALIDATORS: dict[str, Validator] = {
    "id": _id,
    "start": _start,
    "args": _args,
    "restart": _enum(Restart),
    "shutdown": _shutdown,
    "significant": _bool,
    "backoff": _backoff,
    "mailbox_size": _mailbox_size,
    "placement": _placement,
    "worker_options": _worker_options,
    "durability": _durability,
}
