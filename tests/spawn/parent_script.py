"""A parent for the parent-death test: two workers, one spinning, one in time.sleep.

Run as ``python parent_script.py MARKER_DIR``; the test SIGKILLs it.
"""

from __future__ import annotations

import sys

import trio

from spawn import open_pool
from tests.spawn import workload


async def main(markers: str) -> None:
    async with open_pool(max_workers=2, spares=2) as pool, trio.open_nursery() as nursery:
        nursery.start_soon(pool.run, workload.spin, f"{markers}/spin")
        nursery.start_soon(pool.run, workload.touch_and_sleep, f"{markers}/sleep", 600)


if __name__ == "__main__":
    trio.run(main, sys.argv[1])
