"""A second worker kind for tests: echo each frame, prefixed with the config's greeting.

Stands in for the actors' worker host (``actors._host``): a pool started with
``entry=`` this module is only leased, and its channel carries whatever the kind speaks.
"""

from __future__ import annotations

import os

from spawn._fnworker import FrameReader, write_frame


def main(fd: int, config: dict[str, str]) -> int:
    greeting = config["greeting"].encode()
    reader = FrameReader(fd, 1 << 20)
    while (frame := reader.read()) is not None:
        write_frame(fd, greeting + frame + str(os.getpid()).encode())
    return 0
