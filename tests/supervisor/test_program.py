"""Program children in a tree: exit reasons, restarts, the stop ladder, output to logging."""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trio

from actors import Actor, Caller, Reply, Runtime, open_runtime
from supervisor import (
    BRUTAL_KILL,
    ChildSpec,
    InvalidSpec,
    ProgramExited,
    Restart,
    Supervisor,
    open_tree,
    program,
    program_pid,
)
from tests.leaks import LeakCheck

DEADLINE = 60
OUTPUT = "supervisor.program"


class Records(logging.Handler):
    """The records of the ``supervisor`` loggers, as they come; output of ``skip`` is counted."""

    def __init__(self, skip: str | None = None) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.skipped = 0
        self.skip = skip
        self._changed = trio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.skip is not None and getattr(record, "child_id", None) == self.skip:
            self.skipped += 1
            if self.skipped % 1000 == 0:
                self._changed.set()
            return
        self.records.append(record)
        self._changed.set()

    def matching(self, predicate: Callable[[logging.LogRecord], bool]) -> list[logging.LogRecord]:
        return [record for record in self.records if predicate(record)]

    async def until(self, predicate: Callable[[], bool]) -> None:
        while not predicate():
            self._changed = trio.Event()
            await self._changed.wait()

    async def event(self, event: str, child_id: str, count: int = 1) -> logging.LogRecord:
        """The ``count``-th supervisor record of ``event`` for ``child_id``, once it came."""

        def found() -> list[logging.LogRecord]:
            return self.matching(
                lambda r: (
                    getattr(r, "event", None) == event and getattr(r, "child_id", None) == child_id
                )
            )

        await self.until(lambda: len(found()) >= count)
        return found()[count - 1]

    def output(self, child_id: str, stream: str = "stdout") -> list[str]:
        lines = self.matching(
            lambda r: (
                r.name == OUTPUT
                and getattr(r, "child_id", None) == child_id
                and getattr(r, "stream", None) == stream
            )
        )
        return [str(record.args[-1]) for record in lines]  # type: ignore[index]

    async def line(self, child_id: str, index: int = 0) -> str:
        await self.until(lambda: len(self.output(child_id)) > index)
        return self.output(child_id)[index]


@pytest.fixture
def records() -> Iterator[Records]:
    """Every record of the ``supervisor`` loggers (INFO and up) during the test.

    Program output does not reach the root logger meanwhile (pytest's capture would
    hold every line of a fast writer).
    """
    handler = Records()
    top, output = logging.getLogger("supervisor"), logging.getLogger(OUTPUT)
    saved = top.level, output.propagate
    top.setLevel(logging.INFO)
    top.addHandler(handler)
    output.addHandler(handler)
    output.propagate = False
    try:
        yield handler
    finally:
        top.removeHandler(handler)
        output.removeHandler(handler)
        top.setLevel(saved[0])
        output.propagate = saved[1]


def reason(record: logging.LogRecord) -> str:
    """The ``reason`` field of a supervisor record."""
    return str(getattr(record, "reason", None))


def sh(script: str, *args: str) -> list[str]:
    return ["sh", "-c", script, *args]


async def test_exit_0_is_normal_and_a_transient_child_stays_down(
    runtime: Runtime, records: Records, leaks: LeakCheck
) -> None:
    tree = Supervisor(children=[program("once", sh("echo hi"), restart=Restart.TRANSIENT)])
    with trio.fail_after(DEADLINE):
        async with open_tree(tree, runtime=runtime) as root:
            exited = await records.event("exited", "once")
            [info] = await root.which_children()
    assert reason(exited) == "normal"
    assert exited.levelno == logging.INFO
    assert info.ref is None
    assert not info.restarting
    assert records.output("once") == ["hi"]
    assert not records.matching(lambda r: getattr(r, "event", None) == "restarting")


async def test_exit_3_is_a_crash_and_a_permanent_child_restarts(
    tmp_path: Path, runtime: Runtime, records: Records, leaks: LeakCheck
) -> None:
    script = 'test -e "$0" && exec sleep 600; : > "$0"; exit 3'
    tree = Supervisor(children=[program("flaky", sh(script, str(tmp_path / "ran")))])
    with trio.fail_after(DEADLINE):
        async with open_tree(tree, runtime=runtime) as root:
            crashed = await records.event("exited", "flaky")
            await records.event("started", "flaky", count=2)
            pid = await program_pid(root.child("flaky"))
            leaks.watch(pid)
    assert crashed.levelno == logging.ERROR
    assert crashed.exc_info is not None
    exc = crashed.exc_info[1]
    assert isinstance(exc, ProgramExited)
    assert exc.returncode == 3
    assert exc.killed_by is None
    assert "exited with status 3" in reason(crashed)
    stopped = await records.event("shutdown", "flaky")
    assert reason(stopped) == "shutdown"


async def test_a_signal_is_a_crash_naming_it(
    runtime: Runtime, records: Records, leaks: LeakCheck
) -> None:
    tree = Supervisor(children=[program("segv", sh("kill -SEGV $$"), restart=Restart.TEMPORARY)])
    with trio.fail_after(DEADLINE):
        async with open_tree(tree, runtime=runtime):
            crashed = await records.event("exited", "segv")
    assert crashed.exc_info is not None
    exc = crashed.exc_info[1]
    assert isinstance(exc, ProgramExited)
    assert exc.killed_by == signal.SIGSEGV
    assert "killed by signal SIGSEGV" in reason(crashed)


async def test_a_program_that_exits_on_the_stop_signal_is_shut_down_not_crashed(
    runtime: Runtime, records: Records, leaks: LeakCheck
) -> None:
    script = "trap 'echo bye; exit 7' TERM; echo ready; while :; do sleep 0.05; done"
    tree = Supervisor(children=[program("polite", sh(script), shutdown=30.0)])
    with trio.fail_after(DEADLINE):
        async with open_tree(tree, runtime=runtime) as root:
            assert await records.line("polite") == "ready"
            leaks.watch(await program_pid(root.child("polite")))
    stopped = await records.event("shutdown", "polite")
    assert reason(stopped) == "shutdown"
    assert stopped.levelno == logging.INFO
    assert records.output("polite") == ["ready", "bye"]
    assert not records.matching(lambda r: r.levelno >= logging.WARNING)


async def test_a_program_that_ignores_sigterm_is_killed_at_the_end_of_its_budget(
    runtime: Runtime, records: Records, leaks: LeakCheck
) -> None:
    """With a 1 s budget: SIGKILL for it and its grandchild in the same group, not before."""
    script = "trap '' TERM; sleep 600 & echo $!; echo ready; wait"
    tree = Supervisor(children=[program("stubborn", sh(script), shutdown=1.0)])
    with trio.fail_after(DEADLINE):
        async with open_tree(tree, runtime=runtime) as root:
            assert await records.line("stubborn", 1) == "ready"
            pid = await program_pid(root.child("stubborn"))
            grandchild = int(records.output("stubborn")[0])
            leaks.watch(pid)
            leaks.watch(grandchild)
            start = trio.current_time()
        assert trio.current_time() - start >= 1.0, "killed before the end of the budget"
    stopped = await records.event("shutdown", "stubborn")
    assert reason(stopped) == "killed"
    assert await trio.to_thread.run_sync(leaks.gone, grandchild, 10.0)


async def test_brutal_kill_and_a_torn_down_runtime_leave_no_process(
    records: Records, leaks: LeakCheck
) -> None:
    """BRUTAL_KILL: SIGKILL at once (SIGTERM ignored, no budget waited); a runtime torn
    down by cancellation also kills and reaps its program children."""
    script = "trap '' TERM; sleep 600 & echo $!; echo ready; wait"
    brutal = program("brutal", sh(script), shutdown=BRUTAL_KILL)
    tree = Supervisor(children=[brutal, program("other", sh(script), shutdown=30.0)])
    with trio.fail_after(DEADLINE), trio.CancelScope() as teardown:
        async with open_runtime() as runtime, open_tree(tree, runtime=runtime) as root:
            for child_id in ("brutal", "other"):
                assert await records.line(child_id, 1) == "ready"
                leaks.watch(await program_pid(root.child(child_id)))
                leaks.watch(int(records.output(child_id)[0]))
            await root.terminate_child("brutal")
            stopped = await records.event("shutdown", "brutal")
            teardown.cancel()
            await trio.sleep_forever()
    assert reason(stopped) == "killed"


class Echo(Actor):
    async def handle_call(self, request: Any, caller: Caller) -> Reply:
        return Reply(("echo", request))


async def test_noisy_programs_leave_the_runtime_responsive(
    runtime: Runtime, records: Records, leaks: LeakCheck
) -> None:
    """A 1 MB line without newline arrives in max_line pieces while the program runs; with
    ``yes`` writing as fast as it can beside it, another child still answers calls."""
    long_line = (
        "import sys, time; sys.stdout.write('x' * (1 << 20)); sys.stdout.flush(); time.sleep(600)"
    )
    tree = Supervisor(
        children=[
            program("long", [sys.executable, "-c", long_line], max_line=65536),
            program("yes", ["yes"]),
            ChildSpec("echo", Echo),
        ]
    )
    records.skip = "yes"  # counted, not kept
    with trio.fail_after(DEADLINE):
        async with open_tree(tree, runtime=runtime) as root:
            leaks.watch(await program_pid(root.child("yes")))
            leaks.watch(await program_pid(root.child("long")))
            await records.until(lambda: len(records.output("long")) == 16)
            await records.until(lambda: records.skipped >= 10000)
            assert await root.child("echo").call("ping", timeout=5.0) == ("echo", "ping")
    assert {len(line) for line in records.output("long")} == {65536}


def test_a_program_that_cannot_be_found_is_an_invalid_spec() -> None:
    with pytest.raises(InvalidSpec, match="no-such-program-here"):
        program("missing", ["no-such-program-here", "--flag"])
    with pytest.raises(InvalidSpec, match="argv"):
        program("empty", [])
    with pytest.raises(InvalidSpec, match="argv"):
        program("string", "sleep 1")
    with pytest.raises(InvalidSpec, match="max_line"):
        program("tiny", ["true"], max_line=0)
    with pytest.raises(InvalidSpec, match="stop_signal"):
        program("bad", ["true"], stop_signal=12345)


def test_a_bare_name_is_resolved_on_path_at_spec_time() -> None:
    spec = program("true", ["true", "x"], env={"PATH": "/usr/bin:/bin"})
    [config] = spec.args
    assert config.argv[0] in ("/usr/bin/true", "/bin/true")
    assert config.argv[1:] == ("x",)
