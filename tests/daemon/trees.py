"""Trees the daemon tests run with `letitcrash run tests.daemon.trees:NAME` (importable by path)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

import trio

from actors import (
    Actor,
    AsyncioActor,
    Caller,
    CallResult,
    InfoResult,
    NoReply,
    Placement,
    Reply,
    Stop,
)
from supervisor import AutoShutdown, ChildSpec, Restart, Sibling, Supervisor, listener, program

logger = logging.getLogger("tests.daemon")


class Polite(Actor):
    """Logs its terminate (event "terminate", field "who"), after ``pause`` seconds."""

    async def init(self, who: str, pause: float = 0.0) -> None:
        self.who = who
        self.pause = pause

    async def handle_call(self, request: Any, caller: Caller) -> CallResult:
        return Reply(self.who)

    async def terminate(self, reason: object) -> None:
        await trio.sleep(self.pause)
        logger.info("terminate %s", self.who, extra={"event": "terminate", "who": self.who})


def ordered(budget: float = 2.0) -> Supervisor:
    """Three children with terminate callbacks, a process child, a nested supervisor."""
    return Supervisor(
        children=[
            ChildSpec("a", Polite, args=("a", 0.2), shutdown=budget),
            ChildSpec("p", Polite, args=("p",), shutdown=budget, placement="process"),
            ChildSpec(
                "inner",
                Supervisor(children=[ChildSpec("b", Polite, args=("b", 0.2), shutdown=budget)]),
            ),
            ChildSpec("c", Polite, args=("c", 0.2), shutdown=budget),
        ]
    )


class AsyncioPolite(AsyncioActor):
    """As :class:`Polite`, in asyncio: its terminate awaits the host loop."""

    async def init(self, who: str) -> None:
        self.who = who

    async def terminate(self, reason: object) -> None:
        await asyncio.sleep(0.2)
        loop = type(asyncio.get_running_loop()).__module__
        extra = {"event": "terminate", "who": self.who, "loop": loop}
        logger.info("terminate %s", self.who, extra=extra)


def ordered_asyncio(budget: float = 2.0) -> Supervisor:
    """For ``--loop uvloop``: trio and asyncio children side by side in the root."""
    return Supervisor(
        children=[
            ChildSpec("a", Polite, args=("a", 0.2), shutdown=budget),
            ChildSpec("aio", AsyncioPolite, args=("aio",), shutdown=budget),
            ChildSpec("c", Polite, args=("c", 0.2), shutdown=budget),
        ]
    )


class Slow(Actor):
    """Takes ``delay`` seconds to start, so that a signal can land during start-up."""

    async def init(self, delay: float) -> None:
        await trio.sleep(delay)


def startup(budget: float = 1.0, delay: float = 0.05) -> Supervisor:
    """A tree that takes a while to start: task and process children, nested."""
    children = []
    for index in range(4):
        placement: Placement = "process" if index % 2 else "task"
        children.append(
            ChildSpec(f"w{index}", Slow, args=(delay,), shutdown=budget, placement=placement)
        )
    nested = Supervisor(children=[ChildSpec("x", Slow, args=(delay,), shutdown=budget)])
    return Supervisor(children=[*children, ChildSpec("nested", nested)])


class Stubborn(Actor):
    """Its terminate never returns: only a kill ends it."""

    async def terminate(self, reason: object) -> None:
        logger.info("terminate hangs", extra={"event": "terminate hangs"})
        await trio.sleep_forever()


def hung(budget: float = 60.0) -> Supervisor:
    return Supervisor(
        children=[
            ChildSpec("worker", Polite, args=("worker",), placement="process"),
            ChildSpec("stubborn", Stubborn, shutdown=budget),
        ]
    )


class Crasher(Actor):
    """Crashes shortly after it started (so its supervisor restarts it, and gives up)."""

    async def init(self) -> None:
        self.send_after(0.05, "crash")

    async def handle_info(self, message: Any) -> InfoResult:
        raise RuntimeError("crashed on purpose")


class Done(Actor):
    """Stops normally right after it started."""

    async def init(self) -> None:
        self.send_after(0.05, "done")

    async def handle_info(self, message: Any) -> InfoResult:
        return Stop()


def finishes() -> Supervisor:
    """A significant transient child that ends normally: the root stops (auto_shutdown)."""
    return Supervisor(
        auto_shutdown=AutoShutdown.ANY_SIGNIFICANT,
        children=[
            ChildSpec("quiet", Quiet),
            ChildSpec("job", Done, restart=Restart.TRANSIENT, significant=True),
        ],
    )


def gives_up() -> Supervisor:
    return Supervisor(intensity=1, period=60, children=[ChildSpec("crasher", Crasher)])


class CrashOnce(Actor):
    """Crashes on the call "crash"; answers "ok" to anything else."""

    async def handle_call(self, request: Any, caller: Caller) -> CallResult:
        if request == "crash":
            raise ValueError("a crash to be logged once")
        return Reply("ok")


async def serve_line(stream: Any, target: Any) -> None:
    """One call to ``target`` per line received; the answer sent back as a line."""
    buffer = b""
    async for data in stream:
        buffer += data
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            try:
                answer = str(await target.call(line.decode()))
            except Exception as exc:
                answer = f"error {type(exc).__name__}"
            await stream.send_all(answer.encode() + b"\n")


def crashes() -> Supervisor:
    """A task and a process child that crash on request, reached through listeners."""
    return Supervisor(
        intensity=10,
        children=[
            ChildSpec("task", CrashOnce),
            ChildSpec("proc", CrashOnce, placement="process"),
            listener("to_task", serve_line, args=(Sibling("task"),)),
            listener("to_proc", serve_line, args=(Sibling("proc"),)),
        ],
    )


class EnvProbe(Actor):
    """Writes its process's environment to ``out`` (JSON) when it starts."""

    async def init(self, out: str) -> None:
        text = json.dumps({"pid": os.getpid(), "env": dict(os.environ)})
        await trio.Path(out).write_text(text)


def env_probe(out: Path) -> Supervisor:
    return Supervisor(
        children=[ChildSpec("probe", EnvProbe, args=(str(out),), placement="process")]
    )


class Quiet(Actor):
    async def handle_info(self, message: Any) -> InfoResult:
        return NoReply()


def quiet() -> Supervisor:
    return Supervisor(children=[ChildSpec("quiet", Quiet, restart=Restart.PERMANENT)])


#: A grandchild that leaves its program's session (setsid), records its pid, lingers, and
#: records a SIGTERM if one comes.
_ORPHAN = (
    'setsid sh -c \'trap "echo term > $0/term; exit 0" TERM; echo $$ > $0/pid.tmp; '
    'mv $0/pid.tmp $0/pid; sleep $1 & wait $!\' "$0" "$1" & '
    # the program waits for its grandchild to have left its group: its exit kills the group
    'i=0; while [ ! -e "$0/pid" ] && [ $i -lt 1000 ]; do sleep 0.01; i=$((i+1)); done; exit 0'
)


def orphans(marks: Path, linger: float = 60.0) -> Supervisor:
    """A program that starts a setsid grandchild and exits at once; a quiet actor beside it."""
    orphan = program(
        "forker", ["sh", "-c", _ORPHAN, str(marks), str(linger)], restart=Restart.TEMPORARY
    )
    return Supervisor(children=[ChildSpec("quiet", Quiet), orphan])


def sleeper() -> Supervisor:
    return Supervisor(children=[program("sleeper", ["sleep", "600"])])


_BIG_LINE = "import sys, time; sys.stdout.write('x' * 2**20); sys.stdout.flush(); time.sleep(600)"


def noisy(port: int = 0) -> Supervisor:
    """The kv service beside a program printing 1 MB without a newline and one writing fast."""
    from examples.kv_service import tree

    kv = tree(port=port)
    return Supervisor(
        children=[
            *kv.children,
            program("big_line", [sys.executable, "-c", _BIG_LINE]),
            program("fast", ["yes", "fast"]),
        ]
    )


class RunsCommands(Actor):
    """Runs ``sh -c 'exit 7'`` a few times with trio.run_process; writes the statuses it saw."""

    async def init(self, out: str) -> None:
        codes = []
        for _ in range(5):
            done = await trio.run_process(["sh", "-c", "exit 7"], check=False)
            codes.append(done.returncode)
        await trio.Path(out).write_text(json.dumps(codes))


def runs_commands(out: Path) -> Supervisor:
    return Supervisor(children=[ChildSpec("commands", RunsCommands, args=(str(out),))])
