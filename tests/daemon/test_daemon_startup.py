"""SIGTERM at random moments of start-up: the daemon exits in time and leaves no process.

The daemon runs under tests/daemon/subreaper_wrapper.py, which adopts whatever the
daemon leaves behind: "no process left" means it adopted nothing still alive. 20
moments in CI (seed printed); LETITCRASH_STARTUP_KILLS=N asks for more.
"""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

from tests.daemon.running import DEADLINE, Daemon
from tests.daemon.support import read_report, wrapped_argv
from tests.procs import children

BUDGET = 1.0  # every child's shutdown budget in the tree started
COUNT = int(os.environ.get("LETITCRASH_STARTUP_KILLS", "20"))


def daemon_pid(wrapper: int) -> int:
    """The daemon, once the wrapper started it (bounded wait on another process)."""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        found = children(wrapper)
        if found:
            return found.pop()
        time.sleep(0.001)
    raise AssertionError("the wrapper started no daemon")


def test_sigterm_at_random_moments_of_start_up(tmp_path: Path) -> None:
    seed = int(os.environ.get("LETITCRASH_SEED", time.time_ns() % 1_000_000))
    print(f"seed {seed}: LETITCRASH_SEED={seed} repeats these moments")
    rng = random.Random(seed)
    for attempt in range(COUNT):
        report = tmp_path / f"report{attempt}.json"
        moment = rng.uniform(0.0, 0.9)  # start-up takes about 0.7 s here
        daemon = Daemon(
            "tests.daemon.trees:startup",
            tmp_path / "state",
            "--set",
            f"budget={BUDGET}",
            prefix=wrapped_argv([], report),
        )
        try:
            target = daemon_pid(daemon.pid)  # the wrapper's child: from its exec on
            time.sleep(moment)  # the random moment itself, not a synchronisation
            sent = time.monotonic()
            os.kill(target, signal.SIGTERM)
            code = daemon.wait(BUDGET + 5 + 30)  # the exit; its time is checked below
            took = time.monotonic() - sent
        finally:
            daemon.close()
        found = read_report(report)
        context = f"attempt {attempt} at {moment:.3f} s (seed {seed}):\n{daemon.text()}"
        assert code in (0, 128 + signal.SIGTERM), context  # 143: killed before trio ran
        assert found.alive_adopted == [], context
        assert took < BUDGET + 5, f"took {took:.1f} s; {context}"
