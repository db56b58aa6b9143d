"""A parent for the program parent-death test: it starts one program child, then waits.

Run as ``python program_parent.py MARKER``: the program's pid is written to MARKER
once it runs; the test then SIGKILLs this process.
"""

from __future__ import annotations

import sys

import trio

from spawn import ProgramChild


async def main(marker: str) -> None:
    child = ProgramChild.start(["/bin/sh", "-c", "echo ready; exec sleep 600"], env={})
    ready = trio.Event()

    def on_line(stream: str, line: bytes) -> None:
        if line == b"ready":
            ready.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(child.serve, on_line)
        await ready.wait()  # the shim has armed the parent-death signal and exec'd
        tmp = trio.Path(f"{marker}.tmp")
        await tmp.write_text(str(child.pid))
        await tmp.rename(marker)


if __name__ == "__main__":
    trio.run(main, sys.argv[1])
