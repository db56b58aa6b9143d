"""Where an actor runs: a task here, a dedicated worker process, or a named shared worker."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True)
class SharedWorker:
    """Run the actor in the worker process called ``name``, with the others placed there."""

    name: str

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"a shared worker's name is a non-empty str, not {self.name!r}")


Placement = Literal["task", "process"] | SharedWorker


def check_placement(placement: object) -> Placement:
    """``placement`` if it is one, else a :class:`TypeError` that lists the choices."""
    if placement in ("task", "process") or isinstance(placement, SharedWorker):
        return placement
    raise TypeError(f'placement is "task", "process" or SharedWorker(name), not {placement!r}')
