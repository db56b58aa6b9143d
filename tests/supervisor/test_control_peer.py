"""The peer check: with the file modes opened up, another uid is still refused (SO_PEERCRED)."""

from __future__ import annotations

import functools
import logging
import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from actors import Actor
from supervisor import ChildSpec, Supervisor, open_tree, serve_control
from supervisor._control import control_codec
from supervisor._paths import control_socket_path
from tests.leaks import LeakCheck

NOBODY = 65534

#: Connects to the socket, reads the reply to the end, prints its pid and the reply in hex.
CLIENT = """
import os, socket, sys
sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sock.connect(sys.argv[1])
data = b""
while True:
    chunk = sock.recv(65536)
    if not chunk:
        break
    data += chunk
print(os.getpid(), data.hex())
"""


def others_may_run(path: str) -> bool:
    """Whether a uid other than ours can execute ``path`` (every directory on the way too)."""
    real = Path(os.path.realpath(path))
    if not real.is_file() or not os.stat(real).st_mode & stat.S_IXOTH:
        return False
    return all(os.stat(parent).st_mode & stat.S_IXOTH for parent in real.parents)


def interpreter_for_others() -> str | None:
    candidates = [sys.executable, "/usr/local/bin/python3", "/usr/bin/python3"]
    for candidate in candidates:
        if candidate and others_may_run(candidate):
            return candidate
    return None


@pytest.fixture
def open_state_dir() -> Iterator[Path]:
    """A state directory others can reach (tmp_path sits below a 0700 directory)."""
    path = Path(tempfile.mkdtemp(prefix="lic-peer-", dir="/tmp"))
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path)


async def test_another_uid_is_refused_by_the_peer_check(
    open_state_dir: Path, caplog: pytest.LogCaptureFixture, leaks: LeakCheck
) -> None:
    if os.geteuid() != 0:
        pytest.skip(f"switching to uid {NOBODY} needs root; running as uid {os.geteuid()}")
    python = interpreter_for_others()
    assert python is not None, "no Python interpreter that uid 65534 may run"
    path = control_socket_path(open_state_dir)
    caplog.set_level(logging.INFO, logger="supervisor.control")
    spec = Supervisor(children=[ChildSpec("w", Actor)])
    async with open_tree(spec) as root, trio.open_nursery() as nursery:
        serve = functools.partial(serve_control, root, path, stop=lambda: None)
        await nursery.start(serve)
        os.chmod(path.parent, 0o777)
        os.chmod(path, 0o666)
        done = await trio.run_process(
            [python, "-I", "-S", "-c", CLIENT, os.fspath(path)],
            user=NOBODY,
            capture_stdout=True,
            capture_stderr=True,
        )
        nursery.cancel_scope.cancel()
    pid_text, reply_hex = done.stdout.decode().split()
    data = bytes.fromhex(reply_hex)
    reply = control_codec().decode(data[4:])
    assert isinstance(reply, dict)
    assert reply["error"] == "forbidden"
    assert f"uid {NOBODY}" in reply["message"]
    refusals = [r for r in caplog.records if getattr(r, "peer_uid", None) == NOBODY]
    assert len(refusals) == 1
    assert refusals[0].levelno == logging.WARNING
    assert getattr(refusals[0], "peer_pid", None) == int(pid_text)
    assert f"uid {NOBODY} (pid {pid_text})" in refusals[0].getMessage()


def test_the_interpreter_check_can_fail(open_state_dir: Path) -> None:
    private = open_state_dir / "private"
    private.mkdir(mode=0o700)
    program = private / "python"
    program.write_text("")
    program.chmod(0o755)
    assert not others_may_run(os.fspath(program))
    private.chmod(0o755)
    assert others_may_run(os.fspath(program))
