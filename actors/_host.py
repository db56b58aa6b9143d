"""The entry of a worker process that hosts actors: a runtime of its own, linked to the root.

Started by the root's pool (``SpawnTemplate.worker("actors._host")``) after the
handshake, with the root's node id and the worker's loop (``"trio"``, or
``"uvloop"``: trio as the guest of uvloop, for asyncio actors) in ``config``. It
serves until its channel reaches end of file (the root stopped it, or died), then
stops its actors in order and exits.
"""

from __future__ import annotations

from typing import Any

import trio

from ._guest import run_on_uvloop
from ._runtime import serve_worker


def main(fd: int, config: dict[str, Any]) -> int:
    """Host actors for the root node ``config["root"]`` over the channel on ``fd``."""
    root = str(config["root"])
    if config.get("loop") == "uvloop":
        run_on_uvloop(serve_worker, fd, root)
    else:
        trio.run(serve_worker, fd, root)
    return 0
