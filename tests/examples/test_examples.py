"""Every example runs, as a user would run it, and says what it should."""

from __future__ import annotations

import subprocess

from tests.support import run_python


def run_example(module: str) -> subprocess.CompletedProcess[str]:
    return run_python("-m", module)


def test_counter_service() -> None:
    done = run_example("examples.counter_service")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[:4] == [
        "counter: 42",
        "call failed at once: ActorExited",
        "watcher: the counter crashed (asked to crash)",
        "a new incarnation by the same name: 0",
    ]
    assert "RuntimeError: asked to crash" in done.stderr  # the crash is logged


def test_isolated_parser() -> None:
    done = run_python("-m", "examples.isolated_parser")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "parser runs in its own process: True",
        "total: 40",
        "total: 42",
        "the parser's process died: killed",
        "restarted in a new process: True",
        "totals untouched: 42",
        "total: 43",
    ]
