"""Helpers shared by tests that run Python the way a user would: in a fresh process."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TypeVar

import pytest
import trio

T = TypeVar("T")

ROOT = Path(__file__).resolve().parents[1]


def run_python(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """``python *args`` from the repository's top, with its output captured as text."""
    return run_command([sys.executable, *args], timeout=timeout)


def run_command(argv: Sequence[str], *, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """``argv`` from the repository's top, with its output captured as text."""
    return subprocess.run(
        list(argv),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


async def eventually(
    check: Callable[[], Awaitable[T | None]], *, what: str, timeout: float = 60.0
) -> T:
    """Poll ``check`` until it returns something truthy; bounded by ``timeout`` seconds.

    For state held in another process, which no trio.Event can signal here. On
    timeout it fails with an AssertionError that names ``what`` it waited for.
    """
    value: T | None = None
    with trio.move_on_after(timeout) as waited:
        while not (value := await check()):  # noqa: ASYNC110 - the state is in another process
            await trio.sleep(0.01)
    if waited.cancelled_caught or not value:
        raise AssertionError(f"timed out after {timeout} s waiting for {what}")
    return value


async def write_pid_then_sleep(path: str, seconds: float) -> None:
    """Write this process's pid into ``path``, then sleep: the side of :func:`pid_from_file`
    that an actor runs (in any process) to say that it is busy now."""
    await trio.Path(path).write_text(str(os.getpid()))
    await trio.sleep(seconds)


async def pid_from_file(path: Path, *, timeout: float = 60.0) -> int:
    """The pid a worker wrote into ``path`` (to say it is running), once it is there."""
    marker = trio.Path(path)

    async def written() -> int | None:
        if await marker.exists() and (text := await marker.read_text()):
            return int(text)
        return None

    return await eventually(written, what=f"{path} to be written", timeout=timeout)


@functools.cache
def _unshare_prefix() -> tuple[str, ...] | str:
    """The unshare options that make a PID namespace here, or why none can be made."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return "util-linux unshare is not installed"
    prefix: tuple[str, ...] = (unshare,) if os.geteuid() == 0 else (unshare, "--map-root-user")
    try:
        probe = subprocess.run(
            [*prefix, "--pid", "--fork", "true"], capture_output=True, text=True, timeout=60
        )
    except subprocess.TimeoutExpired:
        return "unshare --pid --fork true did not finish within 60 s"
    if probe.returncode != 0:
        why = "as root" if os.geteuid() == 0 else "not root, and user namespaces are unavailable"
        return f"cannot make a PID namespace ({why}): {probe.stderr.strip()}"
    return prefix


def pid_namespace_argv(argv: Sequence[str], *, mount_proc: bool = True) -> list[str]:
    """``argv`` run as PID 1 of a new PID namespace: ``unshare --pid --fork --mount-proc``.

    Not root, it adds a user namespace (``--map-root-user``). Where no PID namespace
    can be made it skips the test and says why; with ``CI`` set it fails instead
    (CI runs as root, where this must work).
    """
    prefix = _unshare_prefix()
    if isinstance(prefix, str):
        if os.environ.get("CI"):
            pytest.fail(prefix)
        print(prefix)
        pytest.skip(prefix)
    return [*prefix, "--pid", "--fork", *(["--mount-proc"] if mount_proc else []), *argv]
