"""The entry of a worker process that hosts actors: a runtime of its own, linked to the root.

Started by the root's pool (``SpawnTemplate.worker("actors._host")``) after the
handshake, with the root's node id in ``config``. It serves until its channel
reaches end of file (the root stopped it, or died), then stops its actors in
order and exits.
"""

from __future__ import annotations

from typing import Any

import trio

from ._runtime import serve_worker


def main(fd: int, config: dict[str, Any]) -> int:
    """Host actors for the root node ``config["root"]`` over the channel on ``fd``."""
    trio.run(serve_worker, fd, str(config["root"]))
    return 0
