"""Actors for the supervisor tests: each records its life in a shared log."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import trio

from actors import (
    Actor,
    Caller,
    CallResult,
    ExitReason,
    Ignore,
    InfoResult,
    NoReply,
    Reply,
    Shutdown,
    Stop,
)

Log = list[tuple[str, str]]


@dataclass
class Script:
    """Tells workers (by name) how their next init goes, and how long terminate takes."""

    failures: dict[str, int] = field(default_factory=dict)  # name -> inits left to fail
    ignore: set[str] = field(default_factory=set)
    slow_stop: dict[str, float] = field(default_factory=dict)  # name -> seconds in terminate
    start_times: list[float] = field(default_factory=list)  # when any worker's init returned


class Worker(Actor):
    """Logs ("start", name) in init, ("stop", name) on a shutdown, ("exit", name) otherwise."""

    async def init(self, name: str, log: Log, script: Script | None = None) -> Ignore | None:
        self.name = name
        self.log = log
        self.script = script or Script()
        left = self.script.failures.get(name, 0)
        if left:
            self.script.failures[name] = left - 1
            raise RuntimeError(f"{name} cannot start")
        if name in self.script.ignore:
            return Ignore()
        log.append(("start", name))
        self.script.start_times.append(trio.current_time())
        self.seen: list[Any] = []
        return None

    async def handle_call(self, request: Any, caller: Caller) -> CallResult:
        match request:
            case "ping":
                return Reply(self.name)
            case "seen":
                return Reply(list(self.seen))
            case ("stop", reason):
                return Stop.replying("bye", reason)
            case "crash":
                raise RuntimeError(f"{self.name} crashed on request")
        return Reply(("unknown", request))

    async def handle_cast(self, message: Any) -> InfoResult:
        match message:
            case "crash":
                raise RuntimeError(f"{self.name} crashed on request")
            case ("exit", reason):
                return Stop(reason)
        self.seen.append(message)
        return NoReply()

    async def handle_info(self, message: Any) -> InfoResult:
        self.seen.append(("info", message))
        return NoReply()

    async def terminate(self, reason: ExitReason) -> None:
        seconds = self.script.slow_stop.get(self.name)
        if seconds is not None:
            await trio.sleep(seconds)
        self.log.append(("stop" if isinstance(reason, Shutdown) else "exit", self.name))


class Numbered(Worker):
    """A dynamic child: the template's args (log, script), then start_child's (name)."""

    async def init(  # type: ignore[override]
        self, log: Log, script: Script | None, name: str
    ) -> Ignore | None:
        return await super().init(name, log, script)
