"""Running a command under tests/daemon/subreaper_wrapper.py and reading what it left behind.

"No process left" in a daemon test means ``report.alive_adopted == []``: the
wrapper, a child subreaper around the daemon, adopted nothing that was still
alive after the daemon exited (and the grace).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support import ROOT

WRAPPER = ROOT / "tests" / "daemon" / "subreaper_wrapper.py"


@dataclass(frozen=True)
class WrapperReport:
    """What the wrapper saw: the command's status and the orphans it adopted.

    ``returncode`` is as ``Popen.returncode`` (``-signum`` for a signal),
    ``alive_adopted`` the adopted pids still alive after the grace (then killed),
    ``adopted`` how many adopted processes it reaped, ``pid`` the command's pid.
    """

    returncode: int
    alive_adopted: list[int]
    adopted: int
    pid: int


def wrapped_argv(argv: Sequence[str], report: Path, *, grace: float = 1.0) -> list[str]:
    """The argv that runs ``argv`` under the wrapper, reporting into ``report``."""
    return [sys.executable, str(WRAPPER), "--grace", str(grace), str(report), "--", *argv]


def read_report(report: Path) -> WrapperReport:
    """The report the wrapper wrote once its command and the adopted processes were gone."""
    data = json.loads(report.read_text())
    return WrapperReport(data["returncode"], data["alive_adopted"], data["adopted"], data["pid"])


def start_wrapped(
    argv: Sequence[str], report: Path, *, grace: float = 1.0, **popen: Any
) -> subprocess.Popen[str]:
    """Start ``argv`` under the wrapper from the repository's top, text mode.

    Signal the returned process to signal the command (SIGTERM, SIGINT and SIGHUP
    are forwarded); once it exited, :func:`read_report`.
    """
    return subprocess.Popen(wrapped_argv(argv, report, grace=grace), cwd=ROOT, text=True, **popen)


def run_wrapped(
    argv: Sequence[str],
    report: Path,
    *,
    grace: float = 1.0,
    timeout: float = 60.0,
    env: Mapping[str, str] | None = None,
) -> tuple[subprocess.CompletedProcess[str], WrapperReport]:
    """Run ``argv`` under the wrapper to its end, output captured; return it and the report."""
    run = subprocess.run(
        wrapped_argv(argv, report, grace=grace),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=None if env is None else dict(env),
        check=False,
    )
    assert report.exists(), f"the wrapper wrote no report (exit {run.returncode}): {run.stderr}"
    return run, read_report(report)
