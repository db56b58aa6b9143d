"""A child subreaper around one command, for daemon tests: what did the command leave behind?

Usage: ``python tests/daemon/subreaper_wrapper.py [--grace SECONDS] REPORT_PATH -- argv...``

It makes itself a child subreaper, runs ``argv`` as its child (SIGTERM, SIGINT
and SIGHUP sent to the wrapper are forwarded to it) and reaps, until the child
exits, whatever the child's descendants orphan. Then it waits up to ``--grace``
seconds (default 1) for the adopted processes to exit on their own, notes those
still alive, kills them (and what they orphan in turn) and reaps them all. It
writes ``{"returncode": ..., "alive_adopted": [pids...], "adopted": n, "pid": child's pid}``
to REPORT_PATH (``returncode`` as ``Popen.returncode``: ``-signum`` for a signal;
``adopted`` counts every process it reaped but the child) and exits with the
child's code (``128 + signum`` for a signal).

Stdlib only (and ``tests.procs``), independent of the code under test: it is
the measuring instrument, so it calls ``waitpid(-1)`` freely (it waits on
nothing else).
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path
from types import FrameType

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.procs import child_states

PR_SET_CHILD_SUBREAPER = 36
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
KILL_TIMEOUT = 10.0


def usage() -> None:
    sys.exit(f"usage: {sys.argv[0]} [--grace SECONDS] REPORT_PATH -- argv...")


def parse(args: list[str]) -> tuple[float, str, list[str]]:
    grace = 1.0
    if args[:1] == ["--grace"] and len(args) > 1:
        grace, args = float(args[1]), args[2:]
    if len(args) < 3 or args[1] != "--":
        usage()
    return grace, args[0], args[2:]


def become_subreaper() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        sys.exit(f"prctl(PR_SET_CHILD_SUBREAPER) failed: {os.strerror(err)}")


def living_children() -> list[int]:
    """Children of this process that are not zombies."""
    return sorted(pid for pid, state in child_states().items() if state != "Z")


class Wrapper:
    def __init__(self) -> None:
        self.child: int | None = None  # set while the child is unreaped (its pid is ours)
        self.pending: list[int] = []
        self.adopted = 0
        self.pid = 0  # the child's, for the report

    def forward(self, signum: int, frame: FrameType | None) -> None:
        if self.child is None:
            self.pending.append(signum)
        else:
            os.kill(self.child, signum)

    def run_child(self, command: list[str]) -> int:
        executable = shutil.which(command[0]) or command[0]
        sigdef = (signal.SIGPIPE, signal.SIGXFSZ, *FORWARDED)
        pid = os.posix_spawn(executable, command, os.environ, setsigdef=sigdef)
        self.child = self.pid = pid
        for signum in self.pending:
            os.kill(pid, signum)
        while True:
            done, status = os.waitpid(-1, 0)
            if done == pid:
                self.child = None
                return os.waitstatus_to_exitcode(status)
            self.adopted += 1

    def reap_exited(self) -> None:
        while True:
            try:
                done, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if done == 0:
                return
            self.adopted += 1

    def settle(self, grace: float) -> list[int]:
        """Reap what exits within ``grace``; return what is still alive then."""
        deadline = time.monotonic() + grace
        while True:
            self.reap_exited()
            alive = living_children()
            if not alive or time.monotonic() >= deadline:
                return alive
            time.sleep(0.01)

    def kill_all(self) -> None:
        """SIGKILL every child until none is left (the orphans of the killed come to us)."""
        deadline = time.monotonic() + KILL_TIMEOUT
        while (alive := living_children()) and time.monotonic() < deadline:
            for pid in alive:
                os.kill(pid, signal.SIGKILL)  # an unreaped child's pid is not recycled
            time.sleep(0.01)
            self.reap_exited()
        self.reap_exited()


def main() -> int:
    grace, report_path, command = parse(sys.argv[1:])
    become_subreaper()
    wrapper = Wrapper()
    for signum in FORWARDED:
        signal.signal(signum, wrapper.forward)
    returncode = wrapper.run_child(command)
    alive = wrapper.settle(grace)
    wrapper.kill_all()
    report = {"returncode": returncode, "alive_adopted": alive, "adopted": wrapper.adopted}
    report["pid"] = wrapper.pid
    with open(report_path, "w") as file:
        json.dump(report, file)
    return returncode if returncode >= 0 else 128 - returncode


if __name__ == "__main__":
    sys.exit(main())
