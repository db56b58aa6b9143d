"""Run by tests/spawn/test_reaper.py (a subreaper must not be the pytest process).

Prints one JSON object: what happened to the orphans it made, and to an owned
child's exit status, while ``spawn.open_reaper`` ran. Each orphan is the
grandchild of a child started with ``posix_spawn`` (``spawn.Process``): the
grandchild calls ``setsid``, reports its pid on a pipe and lives until the end of
file on another pipe (or forever); the child exits at once.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
from typing import Any

import trio

import spawn
from spawn._reaper import is_subreaper

GRANDCHILD = """
import os, signal, sys
if os.fork() == 0:
    os.setsid()
    if sys.argv[1] == "ignore":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    os.write(3, b"%d\\n" % os.getpid())
    while os.read(4, 1):
        pass
    os._exit(0)
os._exit(0)
"""
DEADLINE = 30.0


class Reaped(logging.Handler):
    """Exit status of each orphan the reaper reports (its DEBUG log lines)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.codes: dict[int, int] = {}

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg.startswith("reaped adopted orphan") and isinstance(record.args, tuple):
            pid, code = record.args
            self.codes[int(pid)] = int(code)  # type: ignore[call-overload]


def state(pid: int) -> str | None:
    """The /proc state letter of ``pid`` (``Z`` for a zombie), None once reaped."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
    except FileNotFoundError:
        return None
    assert int(fields[1]) == os.getpid(), f"{pid} is not a child of ours"
    return fields[0].decode()


async def until(check: Any, what: str) -> None:
    with trio.fail_after(DEADLINE):
        while not check():  # noqa: ASYNC110 - the state is in another process
            await trio.sleep(0.01)


class Orphan:
    """An orphaned grandchild; ``release()`` makes it exit."""

    pid: int
    hold: int

    @classmethod
    async def make(cls, mode: str = "plain") -> Orphan:
        report_r, report_w = os.pipe()
        hold_r, hold_w = os.pipe()
        argv = [sys.executable, "-I", "-S", "-c", GRANDCHILD, mode]
        template = spawn.SpawnTemplate.program(argv, env={}, fds={3: report_w, 4: hold_r})
        child = spawn.Process.spawn(template)
        os.close(report_w)
        os.close(hold_r)
        async with trio.lowlevel.FdStream(report_r) as report:
            line = b""
            while not line.endswith(b"\n"):
                chunk = await report.receive_some()
                assert chunk, "the grandchild did not report"
                line += chunk
        assert await child.wait() == 0
        orphan = cls()
        orphan.pid, orphan.hold = int(line), hold_w
        return orphan

    def adopted(self) -> bool:
        return state(self.pid) not in (None, "Z")

    def release(self) -> None:
        os.close(self.hold)


async def owned_status(reaper: spawn.Reaper) -> int:
    """An owned child exits 7; the reaper scans while it is a zombie; its wait() says 7."""
    template = spawn.SpawnTemplate.program(
        [sys.executable, "-I", "-S", "-c", "import sys; sys.exit(7)"], env={}
    )
    process = spawn.Process.spawn(template)
    await until(lambda: state(process.pid) == "Z", "the owned child's exit")
    reaper.reap()
    return await process.wait()


async def stops_orphans_after_an_error(reaped: Reaped) -> list[Any]:
    """The block raises: the orphan alive is stopped all the same, the error propagates as is.

    With the budget set to 0 in the block, the orphan gets SIGKILL at once.
    """
    try:
        async with spawn.open_reaper(stop_budget=60.0) as reaper:
            orphan = await Orphan.make()
            reaper.stop_budget = 0
            raise LookupError("the block failed")
    except LookupError as exc:
        orphan.release()
        return [str(exc), state(orphan.pid), reaper.stopped, reaped.codes.get(orphan.pid)]
    raise AssertionError("the error did not propagate")


async def main() -> None:
    reaped = Reaped()
    logging.getLogger("spawn").addHandler(reaped)
    logging.getLogger("spawn").setLevel(logging.DEBUG)
    out: dict[str, Any] = {"pid": os.getpid()}
    async with spawn.open_reaper(stop_budget=1.0) as reaper:
        out["subreaper"] = [is_subreaper()]
        exiting = await Orphan.make()
        out["adopted"] = exiting.adopted()
        exiting.release()
        await until(lambda: state(exiting.pid) is None, "the orphan reaped")
        out["exited_code"] = reaped.codes.get(exiting.pid)
        out["owned_status"] = await owned_status(reaper)
        out["adopted_before_stop"] = reaper.adopted
        polite, stubborn = await Orphan.make(), await Orphan.make("ignore")
    out["subreaper"].append(is_subreaper())
    out["stopped"] = reaper.stopped
    out["adopted_after_stop"] = reaper.adopted
    out["polite"] = [state(polite.pid), reaped.codes.get(polite.pid)]
    out["stubborn"] = [state(stubborn.pid), reaped.codes.get(stubborn.pid)]
    polite.release()
    stubborn.release()
    # SIGCHLD taken away (as libuv does under uvloop): the scan every interval still reaps.
    async with spawn.open_reaper(interval=0.1) as reaper:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        quiet = await Orphan.make()
        quiet.release()
        await until(lambda: state(quiet.pid) is None, "the orphan reaped without SIGCHLD")
        out["without_sigchld"] = [reaper.adopted, reaped.codes.get(quiet.pid)]
    out["after_error"] = await stops_orphans_after_an_error(reaped)
    print(json.dumps(out))


if __name__ == "__main__":
    trio.run(main)
