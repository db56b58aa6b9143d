"""A supervised worker that reports its life to a recorder, from whatever process it runs in."""

from __future__ import annotations

import os
from typing import Any

from actors import (
    Actor,
    ActorRef,
    Caller,
    CallResult,
    ExitReason,
    InfoResult,
    NoReply,
    Reply,
    Shutdown,
    Stop,
)
from tests.support import write_pid_then_sleep


class Reporting(Actor):
    """Casts ("start", name) from init and ("stop" or "exit", name) from terminate."""

    async def init(self, name: str, recorder: ActorRef) -> None:
        self.name = name
        self.recorder = recorder
        if await recorder.call(("fail", name)):
            raise RuntimeError(f"{name} cannot start")
        await recorder.cast(("start", name))

    async def handle_call(self, request: Any, caller: Caller) -> CallResult:
        match request:
            case "pid":
                return Reply(os.getpid())
            case ("busy", str(marker), seconds):
                await write_pid_then_sleep(marker, seconds)
                return Reply("slept")
            case ("stop", reason):
                return Stop.replying("bye", reason)
        return Reply(("unknown", request))

    async def handle_cast(self, message: Any) -> InfoResult:
        if message == "crash":
            raise RuntimeError(f"{self.name} crashed on request")
        return NoReply()

    async def terminate(self, reason: ExitReason) -> None:
        kind = "stop" if isinstance(reason, Shutdown) else "exit"
        await self.recorder.cast((kind, self.name))


class Gated(Reporting):
    """A Reporting whose init, once it has reported its start, waits at ``gate`` before returning.

    It holds an incarnation in the window where its init has run (its start event
    is recorded) but its supervisor does not know the new ref yet.
    """

    async def init(self, name: str, recorder: ActorRef, gate: ActorRef) -> None:  # type: ignore[override]
        await super().init(name, recorder)
        await gate.call("pass", timeout=60.0)


class Gate(Actor):
    """Lets ``call("pass")`` through while open; holds it while closed, until ``"open"``."""

    async def init(self) -> None:
        self.open = True
        self.held: list[Caller] = []

    async def handle_call(self, request: Any, caller: Caller) -> CallResult:
        match request:
            case "pass" if self.open:
                return Reply("passed")
            case "pass":
                self.held.append(caller)
                return NoReply()
            case "held":
                return Reply(len(self.held))
            case "close":
                self.open = False
                return Reply("closed")
            case "open":
                self.open = True
                for held in self.held:
                    self.reply(held, "passed")
                released, self.held = len(self.held), []
                return Reply(released)
        return Reply(("unknown", request))
