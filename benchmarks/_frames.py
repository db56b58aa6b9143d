"""Counting the Python frames a thread enters: ``'call'`` events of ``sys.setprofile``.

A frame is entered for every call of a Python function and every resumption of
a coroutine or generator (trio's scheduler resumes one per task step); calls of
C functions (``'c_call'``) are not counted. The profile function costs far more
than a frame, so a benchmark counts in a pass of its own, over the same calls as
the timed pass, never while it times. Stdlib only: the echo servers of the
floors import it too.

>>> def f() -> None: ...
>>> with FrameCounter() as counter:
...     for _ in range(3):
...         f()
>>> counter.calls  # f three times, then __exit__ and stop
5
"""

from __future__ import annotations

import sys
from types import FrameType, TracebackType
from typing import Final

#: Control messages of an echo server that counts its frames: start (it echoes
#: the message), and stop (it answers with the count, as a decimal string).
FRAMES_ON: Final = "frames on"
FRAMES_OFF: Final = "frames off"


class FrameCounter:
    """Counts the frames this thread enters between ``start()`` and ``stop()``.

    Also a context manager (which counts its own ``__exit__`` and ``stop``: two frames).
    """

    def __init__(self) -> None:
        self.calls = 0

    def _event(self, frame: FrameType, event: str, arg: object) -> None:
        if event == "call":
            self.calls += 1

    def start(self) -> None:
        self.calls = 0
        sys.setprofile(self._event)

    def stop(self) -> int:
        sys.setprofile(None)
        return self.calls

    def __enter__(self) -> FrameCounter:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
