"""The leak check every process test uses (the fixture `leaks`): it asserts, it never cleans up.

Shared by the whole suite: tests/conftest.py makes the fixture available to every
test, and tests import `LeakCheck` (and the helpers) from here.
"""

from __future__ import annotations

import os
import select
from collections.abc import Iterator

import pytest

from tests.procs import children as children

DEADLINE = 10.0


def fd_targets() -> dict[int, str]:
    """What each fd of this process points to."""
    targets = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            targets[int(name)] = os.readlink(f"/proc/self/fd/{name}")
        except OSError:  # the fd of the listing itself
            continue
    return targets


def wait_readable(fd: int, timeout: float) -> bool:
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(timeout * 1000))


class LeakCheck:
    """Watches worker pids through pidfds opened while they lived."""

    def __init__(self) -> None:
        self.pidfds: dict[int, int] = {}

    def watch(self, pid: int) -> None:
        """Open a pidfd for ``pid`` now; at the end it must be readable (the process gone)."""
        if pid not in self.pidfds:
            self.pidfds[pid] = os.pidfd_open(pid)

    def gone(self, pid: int, timeout: float = DEADLINE) -> bool:
        """Whether watched ``pid`` exits within ``timeout`` seconds (blocks: for sync code)."""
        return wait_readable(self.pidfds[pid], timeout)

    def close(self) -> None:
        for fd in self.pidfds.values():
            os.close(fd)


@pytest.fixture
def leaks() -> Iterator[LeakCheck]:
    """Assert that a test leaves no child process, zombie or changed fd behind.

    Before: what every fd points to, and the children. After: every watched pid's
    pidfd is readable within the deadline, no child of this process remains (a
    zombie counts), and every fd points where it pointed before.
    """
    before_fds = fd_targets()
    before_children = children()
    check = LeakCheck()
    yield check
    try:
        alive = [pid for pid, fd in check.pidfds.items() if not wait_readable(fd, DEADLINE)]
        assert not alive, f"worker pids still alive after the test: {alive}"
    finally:
        check.close()
    extra = children() - before_children
    assert not extra, f"child processes (or zombies) left behind: {sorted(extra)}"
    assert fd_targets() == before_fds, "the test changed what this process's fds point to"
