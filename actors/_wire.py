"""The actor layer's ext types: refs and exit reasons cross a boundary as themselves."""

from __future__ import annotations

import os
import traceback
from collections import OrderedDict
from typing import Any, Final

from spawn import Codec, ExtCodec, ExtRegistry, RemoteError, rebuild_error

from . import _exceptions
from ._exceptions import NotRunning, RootStateError, StateError
from ._messages import Down, Exit, GroupJoined, GroupLeft
from ._reasons import KILLED, NOPROC, NORMAL, Crash, Killed, NoProc, Normal, Shutdown
from ._ref import ActorRef, Address, Messenger, MonitorRef, NamedRef

ACTOR_REF = 16
MONITOR_REF = 17
NAMED_REF = 18
NORMAL_CODE = 19
SHUTDOWN_CODE = 20
KILLED_CODE = 21
NOPROC_CODE = 22
CRASH_CODE = 23
EXIT_CODE = 24
DOWN_CODE = 25
GROUP_JOINED_CODE = 26
GROUP_LEFT_CODE = 27
ROOT_STATE_ERROR_CODE = 28
#: How many lent errors a root keeps for their way back (each ends one incarnation).
LENT_KEPT: Final = 256


_PLAIN_ARGS = (str, int, float, bool, bytes, type(None))


class LentErrors:
    """The store errors a root sent to its workers, kept so they come back as themselves.

    The root's store raises a ``supervisor`` error (``StoreFull``...) for a process
    actor's commit; the worker gets a :class:`RootStateError` naming it, and when
    that comes back (a call's error, the actor's crash) the root decodes it as the
    original. The newest :data:`LENT_KEPT` are kept.
    """

    def __init__(self, node: str) -> None:
        self.node = node
        self._errors: OrderedDict[int, Exception] = OrderedDict()
        self._next = 0

    def lend(self, error: Exception) -> RootStateError:
        self._next += 1
        self._errors[self._next] = error
        while len(self._errors) > LENT_KEPT:
            self._errors.popitem(last=False)
        cls = type(error)
        return RootStateError(
            f"{cls.__module__}.{cls.__qualname__}", str(error), self.node, self._next
        )

    def returned(self, error: RootStateError) -> Exception:
        """The original of ``error`` if this root lent it (and still has it), else ``error``."""
        original = self._errors.get(error.ident) if error.node == self.node else None
        return error if original is None else original


def _root_error_to_wire(error: RootStateError) -> list[object]:
    return [error.type_name, error.message, error.node, error.ident]


def _crash_to_wire(crash: Crash) -> object:
    """A crash as spawn's error box: built-in types are rebuilt as themselves on arrival,
    and so are the actor layer's state errors; a lent error travels as itself."""
    exc = crash.exc
    if isinstance(exc, RootStateError):
        return exc
    cause = exc.__cause__
    if isinstance(cause, RemoteError):  # rebuilt once already: pass the original on
        exc = cause
    if isinstance(exc, RemoteError):
        return [exc.type_name, exc.message, exc.traceback, exc.pid, None, None]
    cls = type(exc)
    text = "".join(traceback.format_exception(exc))
    args = list(exc.args) if all(type(a) in _PLAIN_ARGS for a in exc.args) else None
    return [f"{cls.__module__}.{cls.__qualname__}", str(exc), text, os.getpid(), args, None]


def _crash_from_wire(wire: Any) -> Crash:
    if isinstance(wire, Exception):  # a lent error (decoded already)
        return Crash(wire)
    box = list(wire)
    return Crash(_rebuild_state_error(box) or rebuild_error(box, "msgpack"))


def _rebuild_state_error(box: list[Any]) -> Exception | None:
    """One of the actor layer's :class:`StateError` types, rebuilt from its message."""
    type_name = box[0] if box else None
    if not isinstance(type_name, str) or not type_name.startswith("actors._exceptions."):
        return None
    cls = getattr(_exceptions, type_name.rpartition(".")[2], None)
    if not isinstance(cls, type) or not issubclass(cls, StateError) or cls is RootStateError:
        return None
    remote = rebuild_error(box, "msgpack")
    error = cls(str(box[1]))
    error.__cause__ = remote
    return error


def actor_registry(runtime: Messenger, lent: LentErrors | None = None) -> ExtRegistry:
    """The ext types of a runtime: refs decode bound to ``runtime``; errors it ``lent``
    come back as themselves."""

    def root_error_from_wire(wire: Any) -> Exception:
        type_name, message, node, ident = wire
        error = RootStateError(str(type_name), str(message), str(node), int(ident))
        return error if lent is None else lent.returned(error)

    def ref_from_wire(wire: Any) -> ActorRef:
        node, ident = wire
        if not isinstance(node, str) or not isinstance(ident, int):
            raise TypeError("an actor ref is (node: str, id: int)")
        return ActorRef(node, ident, runtime)

    def named_from_wire(wire: Any) -> NamedRef:
        if not isinstance(wire, str):
            raise TypeError("a named ref is a str")
        return NamedRef(wire, runtime)

    def monitor_from_wire(wire: Any) -> MonitorRef:
        node, ident = wire
        return MonitorRef(str(node), int(ident))

    registry = ExtRegistry()
    registry.register(ExtCodec(ACTOR_REF, ActorRef, lambda r: (r.node, r.id), ref_from_wire))
    registry.register(ExtCodec(NAMED_REF, NamedRef, lambda r: r.name, named_from_wire))
    registry.register(
        ExtCodec(MONITOR_REF, MonitorRef, lambda m: (m.node, m.id), monitor_from_wire)
    )
    registry.register(ExtCodec(NORMAL_CODE, Normal, lambda _: None, lambda _: NORMAL))
    registry.register(ExtCodec(SHUTDOWN_CODE, Shutdown, lambda s: s.detail, Shutdown))
    registry.register(ExtCodec(KILLED_CODE, Killed, lambda _: None, lambda _: KILLED))
    registry.register(ExtCodec(NOPROC_CODE, NoProc, lambda _: None, lambda _: NOPROC))
    registry.register(ExtCodec(CRASH_CODE, Crash, _crash_to_wire, _crash_from_wire))
    registry.register(
        ExtCodec(ROOT_STATE_ERROR_CODE, RootStateError, _root_error_to_wire, root_error_from_wire)
    )
    registry.register(ExtCodec(EXIT_CODE, Exit, lambda e: (e.ref, e.reason), lambda w: Exit(*w)))
    registry.register(
        ExtCodec(DOWN_CODE, Down, lambda d: (d.monitor, d.ref, d.reason), lambda w: Down(*w))
    )
    registry.register(
        ExtCodec(
            GROUP_JOINED_CODE,
            GroupJoined,
            lambda g: (g.group, g.refs),
            lambda w: GroupJoined(w[0], tuple(w[1])),
        )
    )
    registry.register(
        ExtCodec(
            GROUP_LEFT_CODE,
            GroupLeft,
            lambda g: (g.group, g.refs),
            lambda w: GroupLeft(w[0], tuple(w[1])),
        )
    )
    return registry


class _Unbound:
    """The messenger of refs decoded by :func:`encoding_codec`: there is no runtime to send by."""

    def _refuse(self) -> NotRunning:
        return NotRunning("a ref decoded outside any runtime cannot send")

    async def call(self, address: Address, request: object, *, timeout: float | None) -> Any:
        raise self._refuse()

    async def cast(self, address: Address, message: object) -> None:
        raise self._refuse()

    def cast_nowait(self, address: Address, message: object) -> None:
        raise self._refuse()

    async def send(self, address: Address, message: object) -> None:
        raise self._refuse()

    def send_nowait(self, address: Address, message: object) -> None:
        raise self._refuse()

    def whereis(self, name: str) -> ActorRef | None:
        raise self._refuse()


def encoding_codec() -> Codec:
    """A codec that encodes what a runtime's does (refs, reasons): for checks before any runtime."""
    return Codec(registry=actor_registry(_Unbound()))
