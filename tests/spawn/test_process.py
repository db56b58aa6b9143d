"""Process handles: pidfd wait, the stop ladder (timed against a fake), reaping."""

from __future__ import annotations

import errno
import os
import signal
import sys

import pytest
import trio
import trio.testing

from spawn import Process, SpawnTemplate
from spawn._process import stop_ladder
from tests.leaks import LeakCheck, fd_targets

DEADLINE = 60


class FakeProcess:
    """Records signals and when they came; exits on the signals it is told to obey."""

    def __init__(self, obeys: set[int], exits_when_asked: bool = False) -> None:
        self.obeys = obeys
        self.exits_when_asked = exits_when_asked
        self.returncode: int | None = None
        self.log: list[tuple[str, float]] = []
        self._exited = trio.Event()

    def _exit(self, code: int) -> None:
        self.returncode = code
        self._exited.set()

    def send_signal(self, sig: int) -> None:
        self.log.append((signal.Signals(sig).name, trio.current_time()))
        if sig in self.obeys and self.returncode is None:
            self._exit(-sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    async def ask(self) -> None:
        self.log.append(("ask", trio.current_time()))
        if self.exits_when_asked:
            self._exit(0)

    async def wait(self) -> int:
        await self._exited.wait()
        assert self.returncode is not None
        return self.returncode


async def test_ladder_asks_then_sigterm_at_half_then_sigkill(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Stop ladder: ask at once, SIGTERM at half the budget, SIGKILL at the end."""
    fake = FakeProcess(obeys={signal.SIGKILL})
    start = trio.current_time()
    assert await stop_ladder(fake, 10.0, fake.ask) == -signal.SIGKILL
    assert [(name, when - start) for name, when in fake.log] == [
        ("ask", 0.0),
        ("SIGTERM", 5.0),
        ("SIGKILL", 10.0),
    ]


async def test_ladder_stops_at_the_first_step_that_works(
    autojump_clock: trio.testing.MockClock,
) -> None:
    asked = FakeProcess(obeys=set(), exits_when_asked=True)
    assert await stop_ladder(asked, 10.0, asked.ask) == 0
    assert [name for name, _ in asked.log] == ["ask"]
    termed = FakeProcess(obeys={signal.SIGTERM})
    start = trio.current_time()
    assert await stop_ladder(termed, 4.0, None) == -signal.SIGTERM
    assert termed.log == [("SIGTERM", start)]  # without ask: SIGTERM at once


async def test_ladder_with_zero_budget_kills_at_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fake = FakeProcess(obeys={signal.SIGKILL})
    await stop_ladder(fake, 0, fake.ask)
    assert [name for name, _ in fake.log] == ["SIGKILL"]


def _python(code: str) -> SpawnTemplate:
    return SpawnTemplate.program([sys.executable, "-I", "-S", "-c", code], env={})


async def test_wait_reports_exit_status_and_signal(leaks: LeakCheck) -> None:
    with trio.fail_after(DEADLINE):
        exited = Process.spawn(_python("import sys; sys.exit(3)"))
        leaks.watch(exited.pid)
        assert await exited.wait() == 3
        assert exited.poll() == 3
        sleeper = Process.spawn(_python("import time; time.sleep(600)"))
        leaks.watch(sleeper.pid)
        assert sleeper.poll() is None
        sleeper.kill()
        assert await sleeper.wait() == -signal.SIGKILL
        sleeper.kill()  # after reaping: nothing, never a recycled pid


async def test_stop_kills_a_process_that_ignores_sigterm(leaks: LeakCheck) -> None:
    code = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print(1, flush=True); time.sleep(600)"
    )
    read_end, write_end = os.pipe()
    template = SpawnTemplate.program(
        [sys.executable, "-I", "-S", "-c", code], env={}, fds={1: write_end}
    )
    try:
        with trio.fail_after(DEADLINE):
            process = Process.spawn(template)
            leaks.watch(process.pid)
            os.close(write_end)
            write_end = -1
            await trio.lowlevel.wait_readable(read_end)  # SIGTERM is ignored from here on
            assert await process.stop(0.5) == -signal.SIGKILL
    finally:
        os.close(read_end)
        if write_end >= 0:
            os.close(write_end)


async def test_stop_when_cancelled_still_kills_and_reaps(leaks: LeakCheck) -> None:
    process = Process.spawn(_python("import time; time.sleep(600)"))
    leaks.watch(process.pid)
    with trio.move_on_after(0.2):
        await process.stop(100.0)
    assert process.returncode == -signal.SIGTERM or process.returncode == -signal.SIGKILL


async def test_fallback_without_pidfd_polls(
    monkeypatch: pytest.MonkeyPatch, leaks: LeakCheck
) -> None:
    """Where pidfds are missing, wait() polls waitpid(WNOHANG)."""

    def no_pidfd(pid: int, flags: int = 0) -> int:
        raise OSError(errno.ENOSYS, "no pidfd")

    def pidfds() -> list[int]:
        return sorted(fd for fd, target in fd_targets().items() if target == "anon_inode:[pidfd]")

    before = pidfds()
    monkeypatch.setattr(os, "pidfd_open", no_pidfd)
    with trio.fail_after(DEADLINE):
        process = Process.spawn(_python("import time; time.sleep(0.2)"))
        assert pidfds() == before, "the handle holds a pidfd although none can be opened"
        assert await process.wait() == 0
        sleeper = Process.spawn(_python("import time; time.sleep(600)"))
        assert await sleeper.stop(1.0) == -signal.SIGTERM


def test_template_rejects_bootstrap_options_for_programs() -> None:
    with pytest.raises(ValueError, match="bootstrap"):
        SpawnTemplate(("/bin/true",), {}, rlimits={7: (1, 1)})
    with pytest.raises(ValueError, match="absolute"):
        SpawnTemplate.program(["true"], env={})
