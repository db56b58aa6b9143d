"""The client side of the control socket: one request, one reply.

>>> import trio
>>> from pathlib import Path
>>> from supervisor import DaemonNotRunning, control_request
>>> try:
...     trio.run(control_request, Path("/nonexistent/control.sock"), "status")
... except DaemonNotRunning as exc:
...     print(exc.code)
not_running
"""

from __future__ import annotations

import errno
import os
import socket
from typing import Any

import trio

from spawn import Channel, ProtocolError

from ._control import MAX_REPLY, PROTOCOL_VERSION, check_socket_path, control_codec
from ._exceptions import ControlError, DaemonNotRunning

_GONE = frozenset({errno.ENOENT, errno.ECONNREFUSED, errno.ENOTDIR})


async def control_request(
    socket_path: str | os.PathLike[str], op: str, /, *, timeout: float = 30.0, **args: object
) -> Any:
    """Send ``op`` (with ``args``) to the daemon whose control socket is ``socket_path``;
    its result (``control_request(sock, "restart", path="sub/worker")``).

    Raises :class:`DaemonNotRunning` (no socket there, or nobody listens),
    :class:`ControlError` (the daemon's error reply, or a reply that breaks the
    protocol) or :class:`trio.TooSlowError` after ``timeout`` seconds.
    """
    raw = check_socket_path(socket_path)
    with trio.fail_after(timeout):
        sock = trio.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            await sock.connect(raw)
        except OSError as exc:
            sock.close()
            if exc.errno in _GONE:
                raise DaemonNotRunning(f"no daemon at {os.fsdecode(raw)!r}: {exc}") from exc
            raise
        async with trio.SocketStream(sock) as stream:
            channel = Channel(stream, control_codec(), max_frame=MAX_REPLY)
            await channel.send({"v": PROTOCOL_VERSION, "op": op, **args})
            try:
                reply = await channel.receive()
            except (ProtocolError, trio.EndOfChannel, trio.BrokenResourceError) as exc:
                raise ControlError("bad_reply", f"the daemon's reply broke off: {exc}") from exc
    return _result(reply)


def _result(reply: object) -> Any:
    if not isinstance(reply, dict) or reply.get("v") != PROTOCOL_VERSION:
        raise ControlError("bad_reply", f"not a reply of protocol {PROTOCOL_VERSION}: {reply!r}")
    if reply.get("ok") is True:
        return reply.get("result")
    raise ControlError(str(reply.get("error")), str(reply.get("message")))
