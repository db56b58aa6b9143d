"""The daemon and the service manager: sd_notify over a datagram socket the test binds."""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.daemon.running import DEADLINE, running


class Manager:
    """A stand-in for systemd: the datagrams sent to NOTIFY_SOCKET, in order."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.socket.bind("\0" + address[1:] if address.startswith("@") else address)
        self.socket.settimeout(DEADLINE)

    def next(self) -> list[str]:
        return self.socket.recv(4096).decode().split("\n")

    def until(self, state: str) -> list[list[str]]:
        """Every datagram up to and including the first that holds ``state``."""
        seen = []
        while True:
            states = self.next()
            seen.append(states)
            if state in states:
                return seen


@pytest.fixture(params=["path", "abstract"])
def manager(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Manager]:
    if request.param == "path":
        address = str(tmp_path / "notify")
    else:
        address = f"@letitcrash-test-{os.getpid()}-{time.monotonic_ns()}"
    manager = Manager(address)
    yield manager
    manager.socket.close()


def test_ready_then_stopping(manager: Manager, tmp_path: Path) -> None:
    out = tmp_path / "env.json"
    env = {"NOTIFY_SOCKET": manager.address}
    with running(
        "tests.daemon.trees:env_probe", tmp_path / "state", "--set", f"out={out}", env=env
    ) as daemon:
        before = manager.until("READY=1")
        assert all("STOPPING=1" not in states for states in before)
        daemon.send(signal.SIGTERM)
        stopping = manager.until("STOPPING=1")[-1]
        assert any(state.startswith("EXTEND_TIMEOUT_USEC=") for state in stopping)
        assert daemon.wait() == 0, daemon.text()
    probe = json.loads(out.read_text())  # a process child's environment
    assert probe["pid"] != daemon.pid
    assert "NOTIFY_SOCKET" not in probe["env"]


def test_watchdog_pings_at_half_the_interval(manager: Manager, tmp_path: Path) -> None:
    env = {"NOTIFY_SOCKET": manager.address, "WATCHDOG_USEC": "200000"}
    with running("tests.daemon.trees:quiet", tmp_path, env=env) as daemon:
        manager.until("READY=1")
        for _ in range(3):
            manager.until("WATCHDOG=1")
        daemon.send(signal.SIGTERM)
        assert daemon.wait() == 0, daemon.text()


def test_restarts_become_status_lines(manager: Manager, tmp_path: Path) -> None:
    with running(
        "tests.daemon.trees:gives_up", tmp_path, env={"NOTIFY_SOCKET": manager.address}
    ) as daemon:
        before = manager.until("READY=1")  # a first restart may come before it
        statuses = [state for states in before for state in states if state.startswith("STATUS=")]
        while not any("gave up" in status for status in statuses):
            statuses += [state for state in manager.next() if state.startswith("STATUS=")]
        assert any("crasher restarting" in status for status in statuses), statuses
        assert daemon.wait() == 1
