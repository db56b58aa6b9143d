"""The entry of a worker process that hosts actors: a runtime of its own, linked to the root.

Started by the root's pool (``SpawnTemplate.worker("actors._host")``) after the
handshake, with the root's node id in ``config``. It serves until its channel
reaches end of file (the root stopped it, or died), then stops its actors in
order and exits.
"""

from __future__ import annotations

import socket
from typing import Any

import trio

from spawn import Channel
from spawn._channel import SocketStream

from ._node import HELLO, NodeLink
from ._runtime import open_runtime


def main(fd: int, config: dict[str, Any]) -> int:
    """Host actors for the root node ``config["root"]`` over the channel on ``fd``."""
    trio.run(_serve, fd, str(config["root"]))
    return 0


async def _serve(fd: int, root: str) -> None:
    stream = SocketStream(socket.socket(fileno=fd))
    async with open_runtime() as runtime:
        router = runtime._ensure_router(hub=False)
        link = NodeLink(Channel(stream, runtime.codec), root)
        router.upstream = link
        router.post(root, [HELLO, root, ""])
        await router.serve(link)
