"""The node protocol: every frame two runtimes exchange, its layout, and how to build and read it.

A frame is a msgpack list ``[kind, destination node, source node, *fields]``,
encoded with the runtime's codec at the sender (so a value that cannot travel
fails there, at send time). Each kind below has its number, its fields, a
builder and a reader; a frame of the wrong length is a :class:`ProtocolError`
(its link is then dropped). Refs and exit reasons travel as the codec's ext
types.
"""

from __future__ import annotations

from typing import Any, Final

from spawn import ProtocolError

from ._reasons import Crash, ExitReason
from ._ref import ActorRef

Frame = list[Any]
#: The fields every frame starts with: kind, destination node, source node.
ROUTING: Final = 3


def _fields(frame: Frame, count: int) -> list[Any]:
    if len(frame) != ROUTING + count:
        raise ProtocolError(f"a frame of kind {frame[0]!r} with {len(frame)} items: {frame!r:.100}")
    return frame[ROUTING:]


def extend_head(encoded: bytes, count: int, extra: int = 1) -> bytes:
    """The encoded start of a frame of ``count + extra`` items, from the encoding of its
    first ``count``: a msgpack array of n < 16 items starts with 0x90 | n, so the frame
    is this head followed by the ``extra`` items' encodings."""
    assert count + extra < 16
    assert encoded[0] == 0x90 | count
    return bytes([0x90 | (count + extra)]) + encoded[1:]


def uint(value: int) -> bytes:
    """The msgpack encoding of a non-negative int (a call id), without the codec."""
    if value < 0x80:
        return bytes((value,))
    if value < 0x10000:
        return b"\xcd" + value.to_bytes(2, "big")
    if value < 0x100000000:
        return b"\xce" + value.to_bytes(4, "big")
    return b"\xcf" + value.to_bytes(8, "big")


# -- a node joins -------------------------------------------------------------------

#: [HELLO, root, new node]: a worker's first frame; its source names the new node.
HELLO: Final = 0


def hello(destination: str, source: str) -> Frame:
    return [HELLO, destination, source]


# -- spawning in another node ---------------------------------------------------------

#: [SPAWN, node, root, request id, module, qualname, args, mailbox bound, link-to ref or None,
#: persistence or None, dedicated]; a persistent actor's persistence is [state key,
#: generation, durability, stored (version, data) or None]: the worker restores it before
#: init. ``dedicated``: the actor is its worker's only one (its idle wait reads the link).
SPAWN: Final = 1


def spawn(
    destination: str,
    source: str,
    request: int,
    cls: tuple[str, str],
    args: list[Any],
    bound: int,
    link: ActorRef | None,
    persistence: list[Any] | None,
    dedicated: bool,
) -> Frame:
    return [
        SPAWN, destination, source, request, cls[0], cls[1], args, bound, link, persistence,
        dedicated,
    ]  # fmt: skip


def read_spawn(
    frame: Frame,
) -> tuple[int, str, str, list[Any], int, ActorRef | None, list[Any] | None, bool]:
    request, module, qualname, args, bound, link, persistence, dedicated = _fields(frame, 8)
    return request, module, qualname, args, bound, link, persistence, dedicated


#: [SPAWNED, root, node, request id, ref or None, error box or None, ignored, mailbox bound]:
#: the answer to SPAWN; the box is [type name, message, traceback text].
SPAWNED: Final = 2


def spawned(
    destination: str,
    source: str,
    request: int,
    ref: ActorRef | None,
    box: list[str] | None,
    ignored: bool,
    bound: int,
) -> Frame:
    return [SPAWNED, destination, source, request, ref, box, ignored, bound]


def read_spawned(frame: Frame) -> tuple[int, ActorRef | None, list[str] | None, bool, int]:
    request, ref, box, ignored, bound = _fields(frame, 5)
    return request, ref, box, ignored, bound


# -- calls ------------------------------------------------------------------------------

#: [CALL, node, source, target id, call id, request]
CALL: Final = 3


def call(destination: str, source: str, target: int, call_id: int, request: object) -> Frame:
    return [CALL, destination, source, target, call_id, request]


def read_call(frame: Frame) -> tuple[int, int, object]:
    target, call_id, request = _fields(frame, 3)
    return target, call_id, request


#: [REPLY, node, source, call id, value]: the answer to a CALL.
REPLY: Final = 4
#: [REPLY_ERROR, node, source, call id, exit reason or None]: the call failed: the actor
#: exited with that reason before it answered, or (None) it was not alive.
REPLY_ERROR: Final = 5


def reply(destination: str, source: str, call_id: int, value: object) -> Frame:
    return [REPLY, destination, source, call_id, value]


def reply_error(destination: str, source: str, call_id: int, reason: ExitReason | None) -> Frame:
    return [REPLY_ERROR, destination, source, call_id, reason]


#: [REPLY_FAILED, node, source, call id, Crash(error)]: the call failed with ``error``, and
#: the actor lives on so far (a strict actor's commit failed: it crashes next).
REPLY_FAILED: Final = 23


def reply_failed(destination: str, source: str, call_id: int, reason: Crash) -> Frame:
    return [REPLY_FAILED, destination, source, call_id, reason]


def read_reply(frame: Frame) -> tuple[int, Any]:
    """The call id, and the value (REPLY), the reason (REPLY_ERROR) or the error's Crash
    (REPLY_FAILED)."""
    call_id, value = _fields(frame, 2)
    return call_id, value


# -- messages and credits -----------------------------------------------------------------

#: [CAST | INFO | SYSTEM, node, source, target id, message]: a cast, a plain send, or a
#: system message (past the mailbox's bound, paid with no credit).
CAST: Final = 6
INFO: Final = 7
SYSTEM: Final = 8


def message(kind: int, destination: str, source: str, target: int, payload: object) -> Frame:
    return [kind, destination, source, target, payload]


def read_message(frame: Frame) -> tuple[int, object]:
    target, payload = _fields(frame, 2)
    return target, payload


#: [CREDIT, node, source, target id, count]: ``count`` of the sender's messages to the
#: target left its mailbox, so the sender may send that many more.
CREDIT: Final = 9


def credit(destination: str, source: str, target: int, count: int) -> Frame:
    return [CREDIT, destination, source, target, count]


def read_credit(frame: Frame) -> tuple[int, int]:
    target, count = _fields(frame, 2)
    return target, count


# -- exits, links and stops ------------------------------------------------------------------

#: [SUBSCRIBE, node, source, target id]: tell the source when the target exits.
SUBSCRIBE: Final = 10
#: [KILL, node, source, target id]: kill the target.
KILL: Final = 16


def subscribe(destination: str, source: str, target: int) -> Frame:
    return [SUBSCRIBE, destination, source, target]


def kill(destination: str, source: str, target: int) -> Frame:
    return [KILL, destination, source, target]


def read_target(frame: Frame) -> int:
    """The target id of a SUBSCRIBE or KILL frame."""
    (target,) = _fields(frame, 1)
    return int(target)


#: [EXITED, node, source, target id, reason]: the target (a proxy's actor) exited.
EXITED: Final = 11
#: [STOP, node, source, target id, reason]: ask the target to stop with ``reason``.
STOP: Final = 15


def exited(destination: str, source: str, target: int, reason: ExitReason) -> Frame:
    return [EXITED, destination, source, target, reason]


def stop(destination: str, source: str, target: int, reason: ExitReason) -> Frame:
    return [STOP, destination, source, target, reason]


def read_reason(frame: Frame) -> tuple[int, ExitReason]:
    """The target id and the reason of an EXITED or STOP frame."""
    target, reason = _fields(frame, 2)
    return target, reason


#: [LINK | UNLINK, node, source, target id, ref]: link (unlink) the target and ``ref``.
LINK: Final = 12
UNLINK: Final = 13


def link(kind: int, destination: str, source: str, target: int, ref: ActorRef) -> Frame:
    return [kind, destination, source, target, ref]


def read_link(frame: Frame) -> tuple[int, ActorRef]:
    target, ref = _fields(frame, 2)
    return target, ref


#: [EXIT, node, source, target id, from ref, reason]: an exit signal over a link.
EXIT: Final = 14


def exit_signal(
    destination: str, source: str, target: int, sender: ActorRef, reason: ExitReason
) -> Frame:
    return [EXIT, destination, source, target, sender, reason]


def read_exit(frame: Frame) -> tuple[int, ActorRef, ExitReason]:
    target, sender, reason = _fields(frame, 3)
    return target, sender, reason


# -- the root's news --------------------------------------------------------------------------

#: [NODEDOWN, node, root, node that went down]: from the root to every other worker.
NODEDOWN: Final = 17


def nodedown(destination: str, source: str, node: str) -> Frame:
    return [NODEDOWN, destination, source, node]


def read_nodedown(frame: Frame) -> str:
    (node,) = _fields(frame, 1)
    return str(node)


#: [NAME, node, root, name, ref or None]: the root's registry changed (replicated to workers).
NAME: Final = 18


def name(destination: str, source: str, registered: str, ref: ActorRef | None) -> Frame:
    return [NAME, destination, source, registered, ref]


def read_name(frame: Frame) -> tuple[str, ActorRef | None]:
    registered, ref = _fields(frame, 2)
    return registered, ref


#: [JOIN | LEAVE, root, node, group, ref]: a worker's actor joined (left) a group; the root
#: keeps the groups.
JOIN: Final = 19
LEAVE: Final = 20


def group(kind: int, destination: str, source: str, joined: str, ref: ActorRef) -> Frame:
    return [kind, destination, source, joined, ref]


def read_group(frame: Frame) -> tuple[str, ActorRef]:
    joined, ref = _fields(frame, 2)
    return joined, ref


# -- a process actor's state ------------------------------------------------------------------

#: [PUT, root, node, request id, state key, generation, version, data]: commit a snapshot of
#: an actor of the node to the root's store (data: under the frame limit, never chunked).
PUT: Final = 21
#: [COMMITTED, node, root, request id, error or None]: the answer to PUT, once the root's
#: store committed it (None) or failed (the error, lent: see ``actors._wire``).
COMMITTED: Final = 22


def put(
    destination: str,
    source: str,
    request: int,
    key: str,
    generation: int,
    version: int,
    data: bytes,
) -> Frame:
    return [PUT, destination, source, request, key, generation, version, data]


def read_put(frame: Frame) -> tuple[int, str, int, int, bytes]:
    request, key, generation, version, data = _fields(frame, 5)
    return request, key, generation, version, data


def committed(destination: str, source: str, request: int, error: Exception | None) -> Frame:
    return [COMMITTED, destination, source, request, error]


def read_committed(frame: Frame) -> tuple[int, Exception | None]:
    request, error = _fields(frame, 2)
    return request, error
