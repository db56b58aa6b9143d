"""`letitcrash status`, `restart`, `stop` against a daemon run by `letitcrash run`."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
from pathlib import Path
from typing import Any

from tests.daemon.running import DEADLINE, LETITCRASH, Daemon, pid_gone, running
from tests.support import ROOT


def letitcrash(state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LETITCRASH, *args, "--state-dir", str(state_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=DEADLINE,
    )


def status(daemon: Daemon) -> tuple[int, dict[str, Any]]:
    done = letitcrash(daemon.state_dir, "status", "--json")
    return done.returncode, json.loads(done.stdout)


def child(document: dict[str, Any], child_id: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [c for c in document["tree"]["children"] if c["id"] == child_id]
    assert found, document
    return found[0]


def test_status_shows_a_restart_after_a_kill_and_restart_spares_the_intensity(
    tmp_path: Path,
) -> None:
    with running("tests.daemon.trees:ordered", tmp_path) as daemon:
        daemon.ready()
        code, document = status(daemon)
        assert code == 0, document
        assert document["schema_version"] == 1
        assert document["pid"] == daemon.pid
        worker = child(document, "p")
        assert worker["restarts"] == 0
        os.kill(worker["pid"], signal.SIGKILL)  # the process child's worker, by its pid
        daemon.wait_for(
            lambda r: r.get("event") == "started" and r.get("child_id") == "p", "p restarted"
        )
        for _ in range(100):  # bounded: the restart is logged just before it is counted
            code, document = status(daemon)
            if child(document, "p")["restarts"] == 1:
                break
        assert child(document, "p")["restarts"] == 1, document
        assert child(document, "p")["pid"] != worker["pid"]
        before = child(document, "a")["ref"]
        for _ in range(3):  # the root's intensity is 1: an operator's restarts do not count
            done = letitcrash(tmp_path, "restart", "a")
            assert done.returncode == 0, done.stderr
        code, document = status(daemon)
        assert code == 0, document
        assert child(document, "a")["ref"] != before
        done = letitcrash(tmp_path, "stop", "--timeout", "30")
        assert done.returncode == 0, done.stderr
        assert daemon.process.poll() == 0  # it had exited when stop returned
        assert letitcrash(tmp_path, "status").returncode == 3


def test_a_stale_socket_after_kill_9_is_replaced(tmp_path: Path) -> None:
    with running("tests.daemon.trees:quiet", tmp_path) as daemon:
        daemon.ready()
        daemon.send(signal.SIGKILL)
        daemon.wait()
    assert (tmp_path / "control" / "control.sock").exists()  # left behind
    assert letitcrash(tmp_path, "status").returncode == 3
    with running("tests.daemon.trees:quiet", tmp_path) as again:
        again.ready()
        code, document = status(again)
        assert code == 0, document
        again.send(signal.SIGTERM)
        assert again.wait() == 0
        assert pid_gone(again.pid, 1)


def test_metrics_of_a_running_daemon(tmp_path: Path) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    with running("tests.daemon.trees:ordered", tmp_path, "--metrics-port", "0") as daemon:
        daemon.ready()
        bound = json.loads((tmp_path / "listeners.json").read_text())
        host, port = bound["/metrics"]
        with socket.create_connection((host, port), timeout=10) as client:
            client.sendall(b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n")
            answer = b""
            while chunk := client.recv(65536):
                answer += chunk
        head, _, body = answer.partition(b"\r\n\r\n")
        assert b" 200 " in head.split(b"\r\n")[0], head
        names = {family.name for family in text_string_to_metric_families(body.decode())}
        assert any("restart" in name for name in names), names
        daemon.send(signal.SIGTERM)
        assert daemon.wait() == 0, daemon.text()
