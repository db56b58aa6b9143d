"""A counter actor served by name, with a monitor that sees it crash.

Run it: ``python -m examples.counter_service``
"""

from __future__ import annotations

from typing import Any

import trio

from actors import Actor, Caller, CallResult, Crash, Down, InfoResult, NoReply, Reply, open_runtime


class Counter(Actor):
    async def init(self, start: int = 0) -> None:
        self.value = start

    async def handle_call(self, request: Any, caller: Caller) -> CallResult:
        match request:
            case ("add", int(n)):
                self.value += n
                return Reply(self.value)
            case "get":
                return Reply(self.value)
            case "boom":
                raise RuntimeError("asked to crash")
        return Reply(("error", f"unknown request {request!r}"))


class Watcher(Actor):
    async def init(self, target: Any, report: trio.MemorySendChannel[str]) -> None:
        self.report = report
        self.monitor(target)

    async def handle_info(self, message: Any) -> InfoResult:
        match message:
            case Down(reason=Crash(exc)):
                await self.report.send(f"watcher: the counter crashed ({exc})")
        return NoReply()


async def main() -> None:
    async with open_runtime() as runtime:
        counter = await runtime.spawn(Counter, 40, name="counter")
        named = runtime.named("counter")
        print("counter:", await named.call(("add", 2)))
        report_in, report_out = trio.open_memory_channel[str](1)
        await runtime.spawn(Watcher, counter, report_in)
        try:
            await named.call("boom")
        except Exception as exc:
            print(f"call failed at once: {type(exc).__name__}")
        print(await report_out.receive())
        await runtime.spawn(Counter, 0, name="counter")
        print("a new incarnation by the same name:", await named.call("get"))
        print("statistics:", runtime.statistics())


if __name__ == "__main__":
    trio.run(main)
