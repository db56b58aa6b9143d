"""The supervisor's exceptions; every one derives from :class:`SupervisorError`."""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING

from actors import NoSuchActor

if TYPE_CHECKING:
    from actors import ActorRef, ExitReason


class SupervisorError(Exception):
    """Base of every error raised by :mod:`supervisor`."""


class InvalidSpec(SupervisorError, ValueError):
    """Raised by the spec check (``check_supervisor``, ``open_tree``, ``start_child``).

    Nothing has started when it is raised. ``child_id`` names the bad child
    (``None`` for the supervisor's own flags), ``field`` the bad field.
    """

    def __init__(self, child_id: str | None, field: str, problem: str) -> None:
        where = "supervisor flags" if child_id is None else f"child {child_id!r}"
        super().__init__(f"{where}: {field}: {problem}")
        self.child_id = child_id
        self.field = field
        self.problem = problem


class StartFailed(SupervisorError):
    """Raised when a child could not start: by ``open_tree`` and by ``start_child``.

    At supervisor start, the children started before it were stopped (reverse
    order) first. ``path`` names the child in the tree (``"sub/worker"``); the
    cause is ``__cause__`` (an :class:`~actors.InitError` for a worker).
    """

    def __init__(self, path: str, cause: BaseException) -> None:
        super().__init__(f"child {path!r} failed to start: {_describe(cause)}")
        self.path = path


class AlreadyStarted(SupervisorError):
    """Raised by ``start_child`` when a running child has that id; ``ref`` is that child."""

    def __init__(self, child_id: str, ref: ActorRef) -> None:
        super().__init__(f"child {child_id!r} is already started as {ref}")
        self.child_id = child_id
        self.ref = ref


class AlreadyPresent(SupervisorError):
    """Raised by ``start_child`` when a stopped child keeps that id (delete it first)."""


class ChildRunning(SupervisorError):
    """Raised by ``restart_child`` and ``delete_child`` when the child is running."""


class ChildRestarting(SupervisorError):
    """Raised by ``restart_child`` and ``delete_child`` while the child waits to restart."""


class ChildNotFound(SupervisorError, LookupError):
    """Raised by the operations (and tree paths) naming a child the supervisor does not have."""


class NotSupported(SupervisorError):
    """Raised by an operation that the supervisor's strategy does not allow.

    A dynamic supervisor (``SIMPLE_ONE_FOR_ONE``) has no ids: ``restart_child``
    and ``delete_child`` are refused, and ``terminate_child`` takes a ref.
    """


class ChildNotRunning(SupervisorError, NoSuchActor):
    """Raised by a ``call`` to a tree child that has no running incarnation.

    A ``cast`` or ``send`` to such a child is dropped (a dead letter), as for a
    dead ref, unless the child waits to restart under backoff (then it is stashed).
    """


class StashFull(SupervisorError):
    """Raised by a send to a child waiting to restart under backoff when its stash is full.

    The message was not stashed. The bound is the child's ``Backoff.stash_size``.
    """


class TreeExited(SupervisorError):
    """Raised by ``open_tree`` when the root supervisor exited while the body ran.

    The body is cancelled first. ``reason`` is the root's exit reason, e.g.
    ``Shutdown("reached_max_restart_intensity")`` after an escalation.
    """

    def __init__(self, reason: ExitReason) -> None:
        super().__init__(f"the root supervisor exited: {reason}")
        self.reason = reason


class ControlError(SupervisorError):
    """Raised by a control client when the daemon answered a request with an error.

    ``code`` says which (``"bad_request"``, ``"too_large"``, ``"bad_version"``,
    ``"unknown_op"``, ``"bad_path"``, ``"not_found"``, ``"running"``,
    ``"no_store"``, ``"forbidden"``, ``"timeout"``, ``"failed"``); the message
    is the daemon's. docs/operations.md lists them.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


class DaemonNotRunning(ControlError):
    """Raised by a control client when no daemon answers: no socket, or it refuses."""

    def __init__(self, message: str) -> None:
        super().__init__("not_running", message)


class SocketPathTooLong(ControlError, ValueError):
    """Raised for a control socket path over the 107 bytes a Unix socket address holds."""

    def __init__(self, path: str, size: int) -> None:
        super().__init__(
            "bad_path",
            f"the control socket path {path!r} is {size} bytes; a Unix socket path holds at "
            "most 107: choose a shorter state directory (--state-dir)",
        )
        self.path = path
        self.size = size


def _describe(cause: BaseException) -> str:
    inner = cause.__cause__
    if isinstance(inner, StartFailed):
        return str(inner)
    return str(cause)


class ProgramExited(SupervisorError):
    """The crash reason of a program child whose program exited by itself, and not with 0.

    ``returncode`` is its exit status, or ``-signum`` when a signal killed it (then
    ``killed_by`` names it). An exit after the child's own stop signal is a shutdown,
    never this.

    >>> str(ProgramExited(3)), str(ProgramExited(-11, "/usr/bin/app"))
    ('exited with status 3', '/usr/bin/app killed by signal SIGSEGV')
    """

    def __init__(self, returncode: int, program: str | None = None) -> None:
        self.returncode = returncode
        self.program = program
        if returncode >= 0:
            what = f"exited with status {returncode}"
        else:
            try:
                what = f"killed by signal {signal.Signals(-returncode).name}"
            except ValueError:
                what = f"killed by signal {-returncode}"
        super().__init__(what if program is None else f"{program} {what}")

    @property
    def killed_by(self) -> signal.Signals | None:
        """The signal that killed it, if one did."""
        if self.returncode >= 0:
            return None
        try:
            return signal.Signals(-self.returncode)
        except ValueError:
            return None
