"""Exit reasons: why an actor stopped, as small frozen types to ``match`` on.

>>> reason = Shutdown("maintenance")
>>> match reason:
...     case Normal() | Shutdown():
...         print("expected")
...     case Crash(exc):
...         print("crashed:", exc)
expected
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class Normal:
    """The actor finished its work. Links do not propagate it."""

    def __str__(self) -> str:
        return "normal"


@dataclass(frozen=True, slots=True)
class Shutdown:
    """The actor was asked to stop (by its supervisor, or by ``stop``)."""

    detail: object = None

    def __str__(self) -> str:
        return "shutdown" if self.detail is None else f"shutdown ({self.detail!r})"


@dataclass(frozen=True, slots=True)
class Killed:
    """The actor was killed without running ``terminate``."""

    def __str__(self) -> str:
        return "killed"


@dataclass(frozen=True, slots=True, eq=False)
class Crash:
    """A handler (or ``terminate``) raised ``exc``. The only reason logged as an error."""

    exc: BaseException

    def __str__(self) -> str:
        return f"crash: {type(self.exc).__name__}: {self.exc}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Crash) and other.exc is self.exc

    def __hash__(self) -> int:
        return id(self.exc)


@dataclass(frozen=True, slots=True)
class NoProc:
    """The reason a monitor reports when its target was already dead."""

    def __str__(self) -> str:
        return "noproc"


ExitReason = Normal | Shutdown | Killed | Crash | NoProc

NORMAL: Final = Normal()
SHUTDOWN: Final = Shutdown()
KILLED: Final = Killed()
NOPROC: Final = NoProc()


def is_abnormal(reason: ExitReason) -> bool:
    """Whether ``reason`` restarts a transient child (OTP: not normal, not shutdown).

    Links are wider: every reason but :class:`Normal` travels over a link.
    """
    return not isinstance(reason, Normal | Shutdown)
