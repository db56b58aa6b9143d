"""The actor layer's ext types: refs and exit reasons cross a boundary as themselves."""

from __future__ import annotations

import os
import traceback
from typing import Any

from spawn import Codec, ExtCodec, ExtRegistry, RemoteError, rebuild_error

from ._exceptions import NotRunning
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


_PLAIN_ARGS = (str, int, float, bool, bytes, type(None))


def _crash_to_wire(crash: Crash) -> list[object]:
    """A crash as spawn's error box: built-in types are rebuilt as themselves on arrival."""
    exc = crash.exc
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
    return Crash(rebuild_error(list(wire), "msgpack"))


def actor_registry(runtime: Messenger) -> ExtRegistry:
    """The ext types of a runtime: refs decode bound to ``runtime``."""

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
