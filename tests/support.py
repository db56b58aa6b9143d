"""Helpers shared by tests that run Python the way a user would: in a fresh process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_python(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """``python *args`` from the repository's top, with its output captured as text."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
