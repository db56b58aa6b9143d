"""Functions the spawn tests run in workers. Imports nothing but the stdlib, on purpose."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

#: The RLIMIT_NOFILE this module saw when a worker imported it (as a preload: before
#: any user code ran).
LIMIT_AT_IMPORT = resource.getrlimit(resource.RLIMIT_NOFILE)
_HOARD: list[bytearray] = []
_PROGRAMS: dict[int, subprocess.Popen[bytes]] = {}


class CustomError(Exception):
    """An exception type the parent does not rebuild from msgpack."""


def limit_at_import() -> list[int]:
    return list(LIMIT_AT_IMPORT)


def loaded(name: str) -> bool:
    return name in sys.modules


def pid() -> int:
    return os.getpid()


def echo(*args: object, **kwargs: object) -> object:
    return [list(args), kwargs] if kwargs else args


def fail_builtin(message: str) -> None:
    raise KeyError(message)


def fail_custom(message: str) -> None:
    raise CustomError(message)


def a_set() -> set[int]:
    return {1, 2}


def a_set_of(item: int) -> set[int]:
    return {item}


def a_fraction(n: int, d: int) -> Fraction:
    return Fraction(n, d)


def touch_and_sleep(marker: str, seconds: float) -> int:
    """Create ``marker`` (so the test knows the call runs), then sleep."""
    Path(marker).write_text(str(os.getpid()))
    time.sleep(seconds)
    return os.getpid()


def ignore_sigterm_and_sleep(marker: str, seconds: float) -> int:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    return touch_and_sleep(marker, seconds)


def spin(marker: str) -> None:
    """Create ``marker``, then burn CPU for at most ten minutes."""
    Path(marker).write_text(str(os.getpid()))
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        pass


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def write_garbage(kind: str) -> None:
    """Write bytes that break the protocol onto the worker's channel (fd 3)."""
    data = {
        "huge": b"\xff\xff\xff\xff",
        "undecodable": b"\x00\x00\x00\x02\xc1\xc1",
        "truncated": b"\x00\x00\x00\x10abc",
        "deep": (100_000 + 1).to_bytes(4, "big") + b"\x91" * 100_000 + b"\xc0",
    }[kind]
    os.write(3, data)
    if kind == "truncated":
        os._exit(0)
    time.sleep(600)


def exit_with(status: int) -> None:
    os._exit(status)


def grow(megabytes: int) -> int:
    """Hold ``megabytes`` more memory (touched) until the worker exits."""
    _HOARD.append(bytearray(b"x" * (megabytes * 1024 * 1024)))
    return os.getpid()


def environ() -> dict[str, str]:
    return dict(os.environ)


def stall_reply() -> None:
    """Write a reply's length prefix and part of its body onto fd 3, then stall."""
    os.write(3, (64).to_bytes(4, "big") + b"\x93")
    time.sleep(600)


def wait_for_file(marker: str, seconds: float) -> int:
    """Create ``marker``, then wait (at most ``seconds``) for a file ``go`` beside it."""
    Path(marker).write_text(str(os.getpid()))
    go = Path(marker).with_name("go")
    deadline = time.monotonic() + seconds
    while not go.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    return os.getpid()


def start_program(argv: list[str]) -> int:
    """Start ``argv`` as a child of this worker (kept until :func:`wait_program`); its pid."""
    program = subprocess.Popen(argv)
    _PROGRAMS[program.pid] = program
    return program.pid


def wait_program(pid: int) -> int:
    """Wait (at most a minute) for a program :func:`start_program` started; its returncode."""
    return _PROGRAMS.pop(pid).wait(timeout=60)
