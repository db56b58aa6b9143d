"""Every example runs, as a user would run it, and says what it should."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_example(module: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", module],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


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
