"""A crash-prone parser isolated in a process, beside task actors, under one supervisor.

The parser runs in a worker process of its own (``placement="process"``); the
totals live in a task actor of the main process. A bad input that would bring a
whole program down (here the parser kills its own process, as a faulty C
extension would) costs one call and a restart of the parser alone.

Run it: ``python -m examples.isolated_parser``
"""

from __future__ import annotations

import os
import signal
from typing import Any

import trio

from actors import Actor, ActorExited, Caller, CallResult, Reply
from supervisor import ChildSpec, Strategy, Supervisor, open_tree


class Parser(Actor):
    """Parses numbers; "segfault" kills its own process, like a faulty extension."""

    async def handle_call(self, request: Any, caller: Caller) -> CallResult:
        match request:
            case ("parse", "segfault"):
                os.kill(os.getpid(), signal.SIGKILL)
            case ("parse", str(text)):
                return Reply(int(text))
            case "pid":
                return Reply(os.getpid())
        return Reply(None)


class Totals(Actor):
    """Adds up what it is given; lives in the main process."""

    async def init(self) -> None:
        self.total = 0

    async def handle_call(self, request: Any, caller: Caller) -> CallResult:
        match request:
            case ("add", int(n)):
                self.total += n
        return Reply(self.total)


TREE = Supervisor(
    strategy=Strategy.ONE_FOR_ONE,
    intensity=3,
    period=10,
    children=[
        ChildSpec("parser", Parser, placement="process", shutdown=2.0),
        ChildSpec("totals", Totals),
    ],
)


async def main() -> None:
    async with open_tree(TREE) as root:
        parser, totals = root.child("parser"), root.child("totals")
        first_pid = await parser.call("pid")
        print("parser runs in its own process:", first_pid != os.getpid())
        for text in ("40", "2"):
            print("total:", await totals.call(("add", await parser.call(("parse", text)))))
        try:
            await parser.call(("parse", "segfault"), timeout=30)
        except ActorExited as exc:
            print(f"the parser's process died: {exc.reason}")
        # A call by path waits while the supervisor restarts the child in a fresh process.
        print("restarted in a new process:", await parser.call("pid") != first_pid)
        print("totals untouched:", await totals.call("get"))
        print("total:", await totals.call(("add", await parser.call(("parse", "1")))))


if __name__ == "__main__":
    trio.run(main)
