"""The control subcommands of ``letitcrash``, against a tree served in this process.

The same commands against a real daemon: tests/daemon/test_daemon_control.py.
"""

from __future__ import annotations

import functools
import json
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trio

from actors import Actor
from supervisor import ChildSpec, Restart, Supervisor, SupervisorHandle, open_tree, serve_control
from supervisor._cli import main
from supervisor._paths import control_socket_path

pytestmark = pytest.mark.timeout(60)

SPEC = Supervisor(
    children=[
        ChildSpec("web", Actor),
        ChildSpec("jobs", Supervisor(children=[ChildSpec("job", Actor)])),
        ChildSpec("once", Actor, restart=Restart.TEMPORARY),
    ]
)


@asynccontextmanager
async def daemon_here(state_dir: Path) -> AsyncIterator[SupervisorHandle]:
    """The tree served in this process; its ``stop`` does nothing (this pid stays)."""
    async with open_tree(SPEC) as root, trio.open_nursery() as nursery:
        path = control_socket_path(state_dir)
        await nursery.start(functools.partial(serve_control, root, path, stop=lambda: None))
        yield root
        nursery.cancel_scope.cancel()


async def cli(*argv: str) -> int:
    return await trio.to_thread.run_sync(main, list(argv))


async def test_status_exit_codes_running_degraded_and_not_running(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = ["--state-dir", os.fspath(tmp_path)]
    assert await cli("status", *state) == 3
    assert "not running" in capsys.readouterr().out
    async with daemon_here(tmp_path) as root:
        assert await cli("status", *state) == 0
        drawn = capsys.readouterr().out
        assert f"letitcrash running (pid {os.getpid()})" in drawn
        for line in ("├─ web", "├─ jobs", "│  └─ job", "└─ once"):
            assert line in drawn
        assert await cli("status", "--json", *state) == 0
        document = json.loads(capsys.readouterr().out)
        assert document["schema_version"] == 1
        assert [c["id"] for c in document["tree"]["children"]] == ["web", "jobs", "once"]
        await root.terminate_child("once")  # a temporary child gone: still healthy
        assert await cli("status", *state) == 0
        capsys.readouterr()
        await root.supervisor("jobs").terminate_child("job")  # a permanent one stopped
        assert await cli("status", "--json", *state) == 1
        document = json.loads(capsys.readouterr().out)
        assert document["health"] == "degraded"
        assert await cli("restart", "jobs/job", *state) == 0
        assert "restarted jobs/job as" in capsys.readouterr().out
        assert await cli("status", *state) == 0
        assert await cli("restart", "jobs/nope", *state) == 4
        assert "not_found" in capsys.readouterr().err
        assert await cli("state", "web", *state) == 4
        assert "no_store" in capsys.readouterr().err
        assert await cli("stop", "--timeout", "0.3", *state) == 1  # this process stays
        assert "still running" in capsys.readouterr().err
    assert await cli("status", *state) == 3


async def test_status_of_a_socket_nobody_listens_on_is_not_running(tmp_path: Path) -> None:
    path = control_socket_path(tmp_path)
    path.parent.mkdir()
    left = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    left.bind(os.fspath(path))
    left.close()
    assert await cli("status", "--state-dir", os.fspath(tmp_path)) == 3
