"""A child can be handed its sibling's address: ``Sibling(id)`` among its args.

>>> from actors import Actor
>>> from supervisor import ChildSpec, Sibling, Supervisor, check_supervisor
>>> class Worker(Actor):
...     pass
>>> check_supervisor(Supervisor(children=[ChildSpec("b", Worker, args=(Sibling("a"),))]))
Traceback (most recent call last):
...
supervisor._exceptions.InvalidSpec: child 'b': args: Sibling(id='a') names no other child
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class Sibling:
    """In a child spec's ``args``: replaced, at each start, by the address of sibling ``id``.

    The child receives a :class:`~supervisor.SupervisorHandle` when the sibling is a
    supervisor, else a :class:`~supervisor.ChildAddress`; either resolves the
    sibling's current incarnation at every send, so it survives the sibling's
    restarts. The sibling must be a child of the same supervisor, and the child a
    task (an address cannot travel to another process).
    """

    id: str

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise TypeError(f"a sibling's id is a non-empty str, not {self.id!r}")


class _Inherited:
    """Among a child's args: the args of its supervisor's own spec (see ``TreeContext``)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "INHERITED"


INHERITED: Final = _Inherited()
