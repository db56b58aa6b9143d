"""The control socket: a Unix socket the daemon answers ``letitcrash status`` and the like on.

One request per connection, one reply: spawn's length-prefixed msgpack frames
(:class:`~spawn.Channel`), a map with the protocol version ``"v"`` and the
operation ``"op"``; the reply is ``{"v": 1, "ok": True, "result": ...}`` or
``{"v": 1, "ok": False, "error": code, "message": text}``. A request must
arrive whole within :data:`REQUEST_TIMEOUT` and fit :data:`MAX_REQUEST`; a bad
one is answered with an error and the server keeps serving. Only our own uid
and root get through (``SO_PEERCRED``); the socket is 0600 in a 0700
directory, so the check matters only if someone opened those up.

>>> import functools, tempfile, trio
>>> from pathlib import Path
>>> from actors import Actor
>>> from supervisor import ChildSpec, Supervisor, control_request, open_tree, serve_control
>>> async def main() -> None:
...     with tempfile.TemporaryDirectory() as tmp:
...         path = Path(tmp) / "control" / "control.sock"
...         async with open_tree(Supervisor(children=[ChildSpec("w", Actor)])) as root:
...             async with trio.open_nursery() as nursery:
...                 stop = nursery.cancel_scope.cancel
...                 await nursery.start(functools.partial(serve_control, root, path, stop=stop))
...                 status = await control_request(path, "status")
...                 print(status["health"], [c["id"] for c in status["tree"]["children"]])
...                 print(await control_request(path, "restart", path="w") is not None)
...                 await control_request(path, "stop")
>>> trio.run(main)
running ['w']
True
"""

from __future__ import annotations

import logging
import os
import socket
import stat
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import trio

from spawn import Channel, Codec, FrameTooLarge, Limits, ProtocolError

from . import _control_ops as ops
from ._exceptions import ControlError, SocketPathTooLong, SupervisorError
from ._handles import SupervisorHandle
from ._store import StateStore

logger = logging.getLogger("supervisor.control")

#: The control protocol's version: requests carry it as ``"v"``, replies too.
PROTOCOL_VERSION: Final = 1
#: The largest request frame, in bytes (a request is a few names).
MAX_REQUEST: Final = 64 * 1024
#: The largest reply frame (a status of a large tree).
MAX_REPLY: Final = 16 * 1024 * 1024
#: How long a client may take to send its whole request.
REQUEST_TIMEOUT: Final = 5.0
#: How long one operation may take before the client is told ``timeout``.
OPERATION_TIMEOUT: Final = 60.0
#: The longest path a Unix socket address holds (``sun_path`` is 108 bytes with its NUL).
MAX_SOCKET_PATH: Final = 107
#: Connections served at once; more wait to be accepted.
MAX_CONNECTIONS: Final = 16
OPERATIONS: Final = ("status", "stop", "restart", "state")

_PEERCRED: Final = struct.Struct("3i")  # struct ucred: pid, uid, gid


def check_socket_path(path: str | os.PathLike[str]) -> bytes:
    """``path`` as bytes; :class:`SocketPathTooLong` past :data:`MAX_SOCKET_PATH` bytes."""
    raw = os.fsencode(path)
    if len(raw) > MAX_SOCKET_PATH:
        raise SocketPathTooLong(os.fsdecode(raw), len(raw))
    return raw


def control_codec() -> Codec:
    return Codec(limits=Limits(frame=MAX_REPLY, container=100_000, depth=128))


async def serve_control(
    root: SupervisorHandle,
    path: str | os.PathLike[str],
    *,
    stop: Callable[[], object],
    store: StateStore | None = None,
    request_timeout: float = REQUEST_TIMEOUT,
    task_status: trio.TaskStatus[Path] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the control socket at ``path`` for the tree ``root`` until cancelled.

    Creates the socket's directory 0700 (and makes it so if it exists), removes
    a stale socket left by a killed daemon (the caller holds the state
    directory's lock, so no live daemon owns it), and binds the socket 0600.
    ``stop`` is called after the reply to a ``stop`` request (the daemon's
    orderly stop); ``store`` is the tree's state store, for ``state PATH``.
    Reports the socket's path through ``task_status`` once it listens; removes
    the socket when it ends. A request must arrive whole within ``request_timeout``
    seconds. Raises :class:`SocketPathTooLong`.
    """
    raw = check_socket_path(path)
    where = Path(os.fsdecode(raw))
    listener = _bind(where)
    try:
        async with trio.open_nursery() as nursery:
            task_status.started(where)
            slots = trio.Semaphore(MAX_CONNECTIONS)
            server = _Server(root, stop, store, request_timeout)
            while True:
                await slots.acquire()
                try:
                    stream = await listener.accept()
                except BaseException:
                    slots.release()
                    raise
                nursery.start_soon(server.serve_one, stream, slots)
    finally:
        with trio.CancelScope(shield=True):
            await listener.aclose()
        _remove_socket(where)


def _bind(where: Path) -> trio.SocketListener:
    directory = where.parent
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    _remove_socket(where)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        old = os.umask(0o177)  # the socket is born 0600: no window where others may connect
        try:
            sock.bind(os.fspath(where))
        finally:
            os.umask(old)
        os.chmod(where, 0o600)
        sock.listen(MAX_CONNECTIONS)
    except BaseException:
        sock.close()
        raise
    return trio.SocketListener(trio.socket.from_stdlib_socket(sock))


def _remove_socket(where: Path) -> None:
    """Remove a socket file at ``where``; anything else there is an error, left alone."""
    try:
        mode = os.lstat(where).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise ControlError("bad_path", f"{str(where)!r} exists and is not a socket")
    os.unlink(where)


def peer_credentials(sock: trio.socket.SocketType) -> tuple[int, int, int]:
    """The (pid, uid, gid) of the process at the other end of a Unix socket."""
    data = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size)
    pid, uid, gid = _PEERCRED.unpack(data)
    return pid, uid, gid


class _Server:
    """Answers one connection at a time per task: read, check, operate, reply, close."""

    def __init__(
        self,
        root: SupervisorHandle,
        stop: Callable[[], object],
        store: StateStore | None,
        request_timeout: float,
    ) -> None:
        self.timeout = request_timeout
        self.root = root
        self.stop = stop
        self.store = store
        self.uid = os.getuid()

    async def serve_one(self, stream: trio.SocketStream, slots: trio.Semaphore) -> None:
        try:
            async with stream:
                codec = control_codec()
                # A bad request breaks the reading channel; the reply has a writer of its own.
                reader = Channel(stream, codec, max_frame=MAX_REQUEST, frame_timeout=self.timeout)
                writer = Channel(stream, codec)
                pid, uid, _ = peer_credentials(stream.socket)
                if uid not in (self.uid, 0):
                    logger.warning(
                        "control socket: refused a connection from uid %d (pid %d)",
                        uid,
                        pid,
                        extra={"peer_uid": uid, "peer_pid": pid},
                    )
                    await self._reply(
                        writer, _error("forbidden", f"uid {uid} may not use this socket")
                    )
                    return
                reply, after = await self._answer(reader)
                await self._reply(writer, reply)
                if after is not None:
                    after()
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
            logger.info("control socket: a client went away: %s", exc)
        finally:
            slots.release()

    async def _reply(self, channel: Channel, reply: dict[str, Any]) -> None:
        with trio.move_on_after(self.timeout):
            await channel.send(reply)

    async def _answer(self, channel: Channel) -> tuple[dict[str, Any], Callable[[], object] | None]:
        try:
            with trio.fail_after(self.timeout):
                request = await channel.receive()
        except trio.TooSlowError:
            return _error("timeout", f"no whole request within {self.timeout} s"), None
        except trio.EndOfChannel:
            return _error("bad_request", "end of file before a request"), None
        except FrameTooLarge as exc:
            return _error("too_large", f"{exc} (the request limit is {MAX_REQUEST})"), None
        except ProtocolError as exc:
            return _error("bad_request", f"not a msgpack frame: {exc}"), None
        try:
            op, args = _check(request)
            with trio.fail_after(OPERATION_TIMEOUT):
                result = await self._operate(op, args)
        except trio.TooSlowError:
            return _error("timeout", f"the operation took over {OPERATION_TIMEOUT} s"), None
        except SupervisorError as exc:
            error = ops.error_of(exc)
            return _error(error.code, str(exc)), None
        reply = {"v": PROTOCOL_VERSION, "ok": True, "result": result}
        return reply, (self.stop if op == "stop" else None)

    async def _operate(self, op: str, args: dict[str, Any]) -> object:
        root = self.root
        if op == "status":
            return await ops.status(root)
        if op == "stop":
            return {"pid": os.getpid()}
        path = ops.check_path(args.get("path"))
        if op == "restart":
            return await ops.restart(root, path)
        drop, again = args.get("drop", False), args.get("restart", False)
        if not isinstance(drop, bool) or not isinstance(again, bool):
            raise ControlError("bad_request", "'drop' and 'restart' are booleans")
        return await ops.state(root, self.store, path, drop=drop, restart_child=again)


def _check(request: object) -> tuple[str, dict[str, Any]]:
    if not isinstance(request, dict):
        raise ControlError("bad_request", f"a request is a map, not {type(request).__name__}")
    version = request.get("v")
    if version != PROTOCOL_VERSION:
        raise ControlError(
            "bad_version", f"protocol version {version!r}; this daemon speaks {PROTOCOL_VERSION}"
        )
    op = request.get("op")
    if op not in OPERATIONS:
        raise ControlError("unknown_op", f"unknown operation {op!r}; known: {list(OPERATIONS)}")
    return op, request


def _error(code: str, message: str) -> dict[str, Any]:
    return {"v": PROTOCOL_VERSION, "ok": False, "error": code, "message": message}
