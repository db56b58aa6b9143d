"""Acceptance "Hygiene" and "A function worker ...": what a worker holds and sees."""

from __future__ import annotations

import os
import resource
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from spawn import open_pool
from tests.leaks import LeakCheck
from tests.support import pid_from_file

DEADLINE = 60
NOFILE = 123


def _status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return dict(line.split(":\t", 1) for line in lines if ":\t" in line)


def _fds(pid: int) -> dict[int, str]:
    return {int(n): os.readlink(f"/proc/{pid}/fd/{n}") for n in os.listdir(f"/proc/{pid}/fd")}


def _environ(pid: int) -> set[str]:
    return {e.decode() for e in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0") if e}


def _limit(pid: int, name: str) -> str:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith(name):
            return line[len(name) :].split()[0]
    raise AssertionError(f"no {name!r} in /proc/{pid}/limits")


def _mask_has(mask: str, sig: int) -> bool:
    return bool(int(mask, 16) >> (sig - 1) & 1)


@pytest.fixture
def hostile_parent(tmp_path: Path) -> Iterator[int]:
    """An fd made inheritable on purpose, a listening socket, SIGUSR1 blocked, SIGTERM ignored.

    Yields the inheritable fd. Everything is put back afterwards.
    """
    leaky = os.open(tmp_path / "leaky", os.O_RDWR | os.O_CREAT, 0o600)
    os.set_inheritable(leaky, True)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
    old_term = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        yield leaky
    finally:
        signal.signal(signal.SIGTERM, old_term)
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
        listener.close()
        os.close(leaky)


async def test_hygiene_fds_env_signals_group_limits(hostile_parent: int, leaks: LeakCheck) -> None:
    """Acceptance: Hygiene. With an inheritable fd and a listening socket in the parent,
    a worker holds only fds 0, 1, 2 and its channel; its environment is exactly the
    template's; SigBlk is 0 and SIGTERM at default; its own process group; the
    configured limit shows in /proc/PID/limits and was in force before user code ran."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    env = {"PATH": os.environ.get("PATH", "/usr/bin"), "LETITCRASH_HYGIENE": "yes"}
    with trio.fail_after(DEADLINE):
        async with open_pool(
            max_workers=1,
            env=env,
            rlimits={resource.RLIMIT_NOFILE: (NOFILE, hard)},
            preload=["tests.spawn.workload"],
        ) as pool:
            from tests.spawn import workload

            pid = await pool.run(workload.pid)
            leaks.watch(pid)
            assert pid != os.getpid()
            fds = _fds(pid)
            assert sorted(fds) == [0, 1, 2, 3], fds
            assert fds[0] == os.devnull
            assert fds[3].startswith("socket:")
            assert os.readlink(f"/proc/self/fd/{hostile_parent}") not in fds.values()
            assert _environ(pid) == {f"{k}={v}" for k, v in env.items()}
            assert pool.template.env == env
            status = _status(pid)
            assert int(status["SigBlk"], 16) == 0
            assert not _mask_has(status["SigIgn"], signal.SIGTERM)
            assert not _mask_has(status["SigCgt"], signal.SIGTERM)
            assert not _mask_has(status["SigIgn"], signal.SIGINT), "SIG_IGN would survive exec"
            assert _mask_has(status["SigCgt"], signal.SIGINT), "a handler catches SIGINT"
            assert os.getpgid(pid) == pid != os.getpgrp()
            assert _limit(pid, "Max open files") == str(NOFILE)
            assert await pool.run(workload.limit_at_import) == [NOFILE, hard]


async def test_function_worker_does_not_import_trio(leaks: LeakCheck) -> None:
    """Acceptance: a function worker reports 'trio' not in sys.modules."""
    from tests.spawn import workload

    with trio.fail_after(DEADLINE):
        async with open_pool(max_workers=1) as pool:
            leaks.watch(await pool.run(workload.pid))
            assert await pool.run(workload.loaded, "trio") is False
            assert await pool.run(workload.loaded, "dataclasses") is False
            assert await pool.run(workload.loaded, "tests.spawn.workload") is True


async def test_module_only_the_parents_sys_path_finds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, leaks: LeakCheck
) -> None:
    """Acceptance: a function from a module that only the parent's sys.path can find runs."""
    (tmp_path / "only_here_4.py").write_text("def triple(x):\n    return 3 * x\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import only_here_4  # type: ignore[import-not-found]

    with trio.fail_after(DEADLINE):
        async with open_pool(max_workers=1) as pool:
            from tests.spawn import workload

            leaks.watch(await pool.run(workload.pid))
            assert await pool.run(only_here_4.triple, 14) == 42


async def test_environment_allowlist_and_inherit(
    monkeypatch: pytest.MonkeyPatch, leaks: LeakCheck
) -> None:
    """The default environment is an allowlist; "inherit" is the parent's minus LD_PRELOAD."""
    from tests.spawn import workload

    monkeypatch.setenv("LETITCRASH_MARK", "x")
    monkeypatch.setenv("LD_PRELOAD", "")
    with trio.fail_after(DEADLINE):
        async with open_pool(max_workers=1) as allow:
            leaks.watch(await allow.run(workload.pid))
            seen = await allow.run(workload.environ)
            assert "LETITCRASH_MARK" not in seen
            assert set(seen) <= {
                "PATH",
                "HOME",
                "USER",
                "LOGNAME",
                "LANG",
                "LANGUAGE",
                "TZ",
                "TMPDIR",
            } | {k for k in seen if k.startswith("LC_")}
        async with open_pool(max_workers=1, env="inherit") as inherit:
            leaks.watch(await inherit.run(workload.pid))
            seen = await inherit.run(workload.environ)
            assert seen["LETITCRASH_MARK"] == "x"
            assert "LD_PRELOAD" not in seen


async def test_worker_survives_sigint(tmp_path: Path, leaks: LeakCheck) -> None:
    """SIGINT is the parent's business: a worker that gets one, idle or in the middle
    of a call, keeps serving (its handler does nothing; the call completes)."""
    from tests.spawn import workload

    marker = tmp_path / "running"
    with trio.fail_after(DEADLINE):
        async with open_pool(max_workers=1) as pool:
            pid = await pool.run(workload.pid)
            leaks.watch(pid)
            os.kill(pid, signal.SIGINT)
            assert await pool.run(workload.pid) == pid
            async with trio.open_nursery() as nursery:
                results: list[int] = []

                async def call() -> None:
                    results.append(await pool.run(workload.wait_for_file, str(marker), 60))

                nursery.start_soon(call)
                await pid_from_file(marker)  # the call runs
                os.kill(pid, signal.SIGINT)
                (tmp_path / "go").write_text("")
            assert results == [pid]
            assert await pool.run(workload.pid) == pid
            assert pool.statistics().died == 0


async def test_a_program_a_worker_starts_can_be_interrupted(leaks: LeakCheck) -> None:
    """SIG_IGN survives exec, a handler does not: a program started from a pool
    function has SIGINT at its default, and SIGINT sent to it (only to it) ends it."""
    from tests.spawn import workload

    with trio.fail_after(DEADLINE):
        async with open_pool(max_workers=1) as pool:
            leaks.watch(await pool.run(workload.pid))
            program = await pool.run(workload.start_program, ["sleep", "30"])
            reaped = False
            try:
                assert not _mask_has(_status(program)["SigIgn"], signal.SIGINT)
                os.kill(program, signal.SIGINT)
                returncode = await pool.run(workload.wait_program, program)
                reaped = True
                assert returncode == -signal.SIGINT
            finally:
                if not reaped:
                    os.kill(program, signal.SIGKILL)
                    await pool.run(workload.wait_program, program)
