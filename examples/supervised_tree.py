"""A small supervision tree: a nested supervisor restarts a worker that crashes.

Run it: ``python -m examples.supervised_tree``

    root (one_for_one)
    ├── counter
    └── jobs (rest_for_one)
        ├── parser     crashes on bad input, and is restarted
        └── reporter   started after the parser, so restarted with it
"""

from __future__ import annotations

import logging
from typing import Any

import trio

from actors import Actor, ActorExited, Caller, CallResult, ExitReason, Reply
from supervisor import ChildSpec, Strategy, Supervisor, open_tree


class Counter(Actor):
    async def init(self, start: int = 0) -> None:
        self.value = start

    async def handle_call(self, request: Any, caller: Caller) -> CallResult:
        match request:
            case ("add", int(n)):
                self.value += n
        return Reply(self.value)

    async def terminate(self, reason: ExitReason) -> None:
        print(f"counter stopped ({reason})")


class Parser(Actor):
    async def handle_call(self, request: Any, caller: Caller) -> CallResult:
        match request:
            case ("parse", str(text)):
                return Reply(int(text))  # let it crash on bad input
        return Reply(None)

    async def terminate(self, reason: ExitReason) -> None:
        print(f"parser stopped ({reason})")


class Reporter(Actor):
    async def handle_call(self, request: Any, caller: Caller) -> CallResult:
        return Reply("ready")

    async def terminate(self, reason: ExitReason) -> None:
        print(f"reporter stopped ({reason})")


tree = Supervisor(
    strategy=Strategy.ONE_FOR_ONE,
    intensity=3,
    period=5,
    children=[
        ChildSpec("counter", Counter, args=(40,)),
        ChildSpec(
            "jobs",
            Supervisor(
                strategy=Strategy.REST_FOR_ONE,
                children=[ChildSpec("parser", Parser), ChildSpec("reporter", Reporter)],
            ),
        ),
    ],
)


async def main() -> None:
    async with open_tree(tree) as root:
        print("counter:", await root.child("counter").call(("add", 2)))
        parser = root.child("jobs/parser")
        reporter = root.child("jobs/reporter")
        before = parser.whereis(), reporter.whereis()
        try:
            await parser.call(("parse", "forty-two"))
        except ActorExited as exc:
            print(f"the parser crashed: {exc.reason}")
        # A request to the supervisor is handled after the exit it already received.
        infos = await root.supervisor("jobs").which_children()
        print("jobs:", ", ".join(f"{info.id} running={info.ref is not None}" for info in infos))
        print("parser is a new incarnation:", parser.whereis() not in (None, before[0]))
        print("reporter restarted with it:", reporter.whereis() not in (None, before[1]))
        print("parser:", await parser.call(("parse", "42")))
        print("stopping the tree")
    print("done")


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    trio.run(main)
