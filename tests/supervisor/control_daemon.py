"""A stand-in daemon for the control tests: a tree served on a control socket until ``stop``.

``python -m tests.supervisor.control_daemon STATE_DIR`` prints ``ready`` once its
socket listens; the stop request cancels it and it exits.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import trio

from actors import Actor
from supervisor import ChildSpec, Supervisor, open_tree, serve_control
from supervisor._paths import control_socket_path


async def main(state_dir: Path) -> None:
    spec = Supervisor(children=[ChildSpec("worker", Actor)])
    async with open_tree(spec) as root, trio.open_nursery() as nursery:
        serve = functools.partial(
            serve_control, root, control_socket_path(state_dir), stop=nursery.cancel_scope.cancel
        )
        await nursery.start(serve)
        print("ready", flush=True)


if __name__ == "__main__":
    trio.run(main, Path(sys.argv[1]))
