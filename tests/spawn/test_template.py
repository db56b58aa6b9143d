"""Spawn templates: the file actions hand fds over exactly, whatever the numbering."""

from __future__ import annotations

import os
import sys

import pytest
import trio

from spawn import Process, SpawnTemplate
from spawn._template import _file_actions
from tests.leaks import LeakCheck

DEADLINE = 60


def _simulate(table: dict[int, str], actions: list[tuple[object, ...]]) -> dict[int, str]:
    """Apply posix_spawn file actions to a model fd table (fd -> what it points to)."""
    fds = dict(table)
    for action in actions:
        match action:
            case (os.POSIX_SPAWN_DUP2, int(source), int(target)):
                fds[target] = fds[source]
            case (os.POSIX_SPAWN_CLOSE, int(fd)):
                fds.pop(fd, None)
            case (os.POSIX_SPAWN_OPEN, int(fd), str(path), *_):
                fds[fd] = path
    return fds


@pytest.mark.parametrize(
    "handover",
    [{3: 7}, {3: 4, 4: 3}, {3: 5, 5: 6, 6: 3}, {4: 3, 3: 9}, {0: 3}],
    ids=["simple", "swap", "cycle", "chain", "stdin"],
)
def test_file_actions_hand_over_overlapping_fds(handover: dict[int, int]) -> None:
    parent = {fd: f"parent:{fd}" for fd in range(10)}
    child = _simulate(parent, _file_actions(handover, null_stdin=True))
    for target, source in handover.items():
        assert child[target] == f"parent:{source}"


async def test_handed_over_fd_reaches_a_program(leaks: LeakCheck) -> None:
    """An external program gets exactly the fds it was handed, and nothing else."""
    read_end, write_end = os.pipe()
    code = "import os; os.write(5, repr(sorted(map(int, os.listdir('/proc/self/fd')))).encode())"
    try:
        template = SpawnTemplate.program([sys.executable, "-I", "-S", "-c", code], env={})
        with trio.fail_after(DEADLINE):
            process = Process.spawn(template, {5: write_end})
            leaks.watch(process.pid)
            os.close(write_end)
            write_end = -1
            assert await process.wait() == 0
        # 0, 1, 2, the handed-over 5, and the fd that listdir itself opened
        assert os.read(read_end, 1000) == b"[0, 1, 2, 3, 5]"
    finally:
        os.close(read_end)
        if write_end >= 0:
            os.close(write_end)
