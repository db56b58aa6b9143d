"""Persistent actors used by the tests (importable, so they can run in a worker too)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from actors import Actor, Caller, CallResult, InfoResult, NoReply, Persistent, Reply, Stop


@dataclass
class CounterState:
    value: int = 0
    log: list[str] = field(default_factory=list)


class Counter(Actor, Persistent[CounterState]):
    """``"add"`` adds one, ``"get"`` reads, ``("grow", n)`` adds n bytes, ``"boom"`` raises
    after changing the state; ``"later"`` answers from the next cast (a deferred reply)."""

    state_version = 2

    async def init(self, state: CounterState | None, start: int = 0) -> None:
        self.state = state if state is not None else CounterState(start)
        self.waiting: list[Caller] = []

    def snapshot(self) -> CounterState:
        return self.state

    @classmethod
    def restore(cls, data: Any, version: int) -> CounterState:
        if version == 1:  # version 1 stored the bare count
            return CounterState(int(data))
        return CounterState(data["value"], list(data["log"]))

    async def handle_call(self, request: Any, caller: Caller) -> CallResult:
        match request:
            case "add":
                self.state.value += 1
            case ("grow", int(size)):
                self.state.log.append("x" * size)
            case "boom":
                self.state.value += 1000
                raise RuntimeError("boom")
            case "later":
                self.waiting.append(caller)
                return NoReply()
            case "stop":
                return Stop.replying(self.state.value)
        return Reply(self.state.value)

    async def handle_cast(self, message: Any) -> InfoResult:
        self.state.value += 1
        for caller in self.waiting:
            self.reply(caller, self.state.value)
        self.waiting.clear()
        return NoReply()


class CounterV1(Actor, Persistent[int]):
    """The first version of :class:`Counter`: the bare count."""

    state_version = 1

    async def init(self, state: int | None) -> None:
        self.count = 0 if state is None else state

    def snapshot(self) -> int:
        return self.count

    @classmethod
    def restore(cls, data: Any, version: int) -> int:
        assert version == 1, "version 1 is the first: there is nothing older to migrate"
        return int(data)

    async def handle_call(self, request: Any, caller: Caller) -> CallResult:
        if request == "add":
            self.count += 1
        return Reply(self.count)


class Unencodable(Actor, Persistent[object]):
    async def init(self, state: object) -> None:
        self.value: object = 0

    def snapshot(self) -> object:
        return self.value

    @classmethod
    def restore(cls, data: Any, version: int) -> object:
        return data

    async def handle_call(self, request: Any, caller: Caller) -> CallResult:
        self.value = object()
        return Reply("changed")
