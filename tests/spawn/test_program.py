"""Program children in spawn: hygiene of the child, output as lines, exit, stop ladder, shim."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import trio

from spawn import ProgramChild, SpawnTemplate
from spawn._bootstrap import EXIT_ORPHAN
from spawn._program import _Lines
from tests.leaks import LeakCheck

DEADLINE = 60
ROOT = Path(__file__).parents[2]
SCRIPT = Path(__file__).with_name("program_parent.py")


class Output:
    """Collects a program's lines; ``await output.line(text)`` waits until one came."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, bytes]] = []
        self._changed = trio.Event()

    def __call__(self, stream: str, line: bytes) -> None:
        self.lines.append((stream, line))
        self._changed.set()

    def text(self, stream: str = "stdout") -> list[bytes]:
        return [line for name, line in self.lines if name == stream]

    async def line(self, index: int = 0, stream: str = "stdout") -> bytes:
        while len(self.text(stream)) <= index:
            self._changed = trio.Event()
            await self._changed.wait()
        return self.text(stream)[index]


# -- lines (pure) ---------------------------------------------------------------------


def test_lines_are_split_cut_at_max_line_and_flushed() -> None:
    lines = _Lines(4)
    assert lines.feed(b"ab\ncd") == [b"ab"]
    assert lines.feed(b"efgh\n\n") == [b"cdef", b"gh", b""]
    assert lines.feed(b"abcd\n") == [b"abcd"]  # exactly max_line, then its newline
    assert lines.feed(b"x" * 10) == [b"xxxx", b"xxxx"]
    assert lines.buffer == b"xx"
    assert lines.flush() == [b"xx"]
    assert lines.flush() == []


def test_every_template_drops_the_service_managers_variables() -> None:
    env = {"NOTIFY_SOCKET": "@sd", "WATCHDOG_USEC": "1", "LISTEN_FDS": "2", "KEEP": "1"}
    assert dict(SpawnTemplate.worker(env=env).env) == {"KEEP": "1"}
    assert dict(SpawnTemplate.program(["/bin/true"], env=env).env) == {"KEEP": "1"}


# -- one program child ----------------------------------------------------------------


async def test_the_child_has_fds_0_1_2_its_own_group_cwd_and_a_clean_environment(
    tmp_path: Path, leaks: LeakCheck
) -> None:
    """An fd made inheritable on purpose is not open in the child; NOTIFY_SOCKET is gone;
    the child leads its own process group, runs in ``cwd`` and does not ignore SIGPIPE."""
    read_end, write_end = os.pipe()
    os.set_inheritable(write_end, True)
    output = Output()
    env = {**os.environ, "NOTIFY_SOCKET": "@ours", "LISTEN_PID": "1", "MINE": "yes"}
    try:
        with trio.fail_after(DEADLINE):
            child = ProgramChild.start(
                ["/bin/sh", "-c", "echo ready; sleep 600"], env=env, cwd=str(tmp_path)
            )
            leaks.watch(child.pid)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(child.serve, output)
                assert await output.line() == b"ready"  # said by sh, which execs no more
                proc = trio.Path(f"/proc/{child.pid}")
                fds = sorted(int(fd) for fd in os.listdir(f"/proc/{child.pid}/fd"))
                environ = (await (proc / "environ").read_bytes()).split(b"\0")
                cwd = os.readlink(f"/proc/{child.pid}/cwd")
                pgid = os.getpgid(child.pid)
                status = await (proc / "status").read_text()
                nursery.cancel_scope.cancel()
            assert await child.stop(signal.SIGTERM, 5.0, output) == -signal.SIGTERM
    finally:
        os.close(read_end)
        os.close(write_end)
    assert fds == [0, 1, 2]
    assert b"MINE=yes" in environ
    assert not [v for v in environ if v.startswith((b"NOTIFY_SOCKET=", b"LISTEN_PID="))]
    assert cwd == str(tmp_path)
    assert pgid == child.pid != os.getpgid(0)
    ignored = int(next(ln for ln in status.splitlines() if ln.startswith("SigIgn")).split()[1], 16)
    assert not ignored & (1 << (signal.SIGPIPE - 1)), "SIGPIPE is still ignored after exec"


async def test_long_lines_come_in_pieces_and_a_partial_line_at_exit(leaks: LeakCheck) -> None:
    code = "import sys; sys.stdout.write('x' * 250000 + '\\n' + 'tail'); sys.stderr.write('e')"
    output = Output()
    with trio.fail_after(DEADLINE):
        child = ProgramChild.start([sys.executable, "-c", code], env={}, max_line=100000)
        leaks.watch(child.pid)
        assert await child.serve(output) == 0
    assert [len(line) for line in output.text()] == [100000, 100000, 50000, 4]
    assert output.text()[-1] == b"tail"
    assert output.text("stderr") == [b"e"]


async def test_the_exit_is_seen_while_a_grandchild_holds_the_pipes(leaks: LeakCheck) -> None:
    """A grandchild in its own session keeps stdout open: the exit is seen anyway; one
    left in the program's process group is killed with it."""
    away = "import os, time\nos.setsid()\npid = os.fork()\n"
    away += "print(pid, flush=True) if pid else time.sleep(600)"
    script = '"$0" -c "$1"; sleep 600 & echo $!; exit 4'
    output = Output()
    with trio.fail_after(DEADLINE):
        child = ProgramChild.start(["/bin/sh", "-c", script, sys.executable, away], env={})
        leaks.watch(child.pid)
        assert await child.serve(output) == 4
    session, in_group = (int(line) for line in output.text())
    leaks.watch(session)
    leaks.watch(in_group)
    assert await trio.to_thread.run_sync(leaks.gone, in_group, 10.0)
    assert not leaks.gone(session, 0)
    os.kill(session, signal.SIGKILL)  # ours to stop: this test started it, by pid


async def test_stop_signal_then_sigkill_at_the_end_of_the_budget(leaks: LeakCheck) -> None:
    """A program that ignores SIGTERM, and its grandchild, are killed at the end of the
    budget; one that traps it exits with its own status, before the budget ends."""
    stubborn = "trap '' TERM; sleep 600 & echo $!; echo ready; wait"
    polite = "trap 'exit 7' TERM; echo ready; while :; do sleep 0.05; done"
    output, polite_output = Output(), Output()
    with trio.fail_after(DEADLINE):
        child = ProgramChild.start(["/bin/sh", "-c", stubborn], env={})
        other = ProgramChild.start(["/bin/sh", "-c", polite], env={})
        leaks.watch(child.pid)
        leaks.watch(other.pid)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(child.serve, output)
            nursery.start_soon(other.serve, polite_output)
            assert await output.line(1) == b"ready"
            assert await polite_output.line(0) == b"ready"
            nursery.cancel_scope.cancel()
        grandchild = int(output.text()[0])
        leaks.watch(grandchild)
        start = trio.current_time()
        assert await child.stop(signal.SIGTERM, 0.5, output) == -signal.SIGKILL
        assert trio.current_time() - start >= 0.5, "SIGKILL came before the end of the budget"
        assert await other.stop(signal.SIGTERM, 30.0, polite_output) == 7
    assert await trio.to_thread.run_sync(leaks.gone, grandchild, 10.0)


async def test_the_shim_exits_without_exec_when_its_parent_is_not_the_one_given(
    tmp_path: Path, leaks: LeakCheck
) -> None:
    marker = tmp_path / "ran"
    template = SpawnTemplate.program(["/bin/touch", str(marker)], env={}, die_with_parent=True)
    argv = list(template.argv)
    assert argv[5] == str(os.getpid())
    argv[5] = "1"  # a parent pid that is not the shim's parent
    pid = SpawnTemplate.program(argv, env={}).spawn()
    leaks.watch(pid)
    _, status = await trio.to_thread.run_sync(os.waitpid, pid, 0)
    assert os.waitstatus_to_exitcode(status) == EXIT_ORPHAN
    assert not marker.exists()


async def test_a_program_child_dies_with_its_parent(tmp_path: Path, leaks: LeakCheck) -> None:
    """SIGKILL of the parent: its program child, in a process group of its own, is gone
    within a few seconds (its parent-death signal)."""
    marker = tmp_path / "pid"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    parent = await trio.lowlevel.open_process([sys.executable, str(SCRIPT), str(marker)], env=env)
    try:
        with trio.fail_after(DEADLINE):
            while not marker.exists():  # bounded by the deadline; the parent writes it once
                assert parent.poll() is None, "the parent script died early"
                await trio.sleep(0.01)
        pid = int(marker.read_text())
        leaks.watch(pid)
    finally:
        parent.kill()
        with trio.fail_after(DEADLINE):
            assert await parent.wait() == -signal.SIGKILL
    assert await trio.to_thread.run_sync(leaks.gone, pid, 5.0)


async def test_a_program_that_cannot_be_executed_exits_127_saying_why(leaks: LeakCheck) -> None:
    output = Output()
    with trio.fail_after(DEADLINE):
        child = ProgramChild.start(["/nonexistent/program"], env={})
        leaks.watch(child.pid)
        assert await child.serve(output) == 127
    [line] = output.text("stderr")
    assert b"cannot start /nonexistent/program" in line
