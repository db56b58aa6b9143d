"""A versatile actor for tests: each request is a small command."""

from __future__ import annotations

from typing import Any

import trio

from actors import (
    Actor,
    ActorExited,
    ActorRef,
    Caller,
    CallResult,
    ExitReason,
    Ignore,
    InfoResult,
    NoReply,
    Reply,
    Runtime,
    Stop,
)
from tests.support import write_pid_then_sleep


async def stop_all(runtime: Runtime, *refs: ActorRef) -> None:
    """Stop each of ``refs``, last first: a test stops what it started.

    Each must still be alive (``stop`` raises ``NoSuchActor`` otherwise), so a
    test that calls this also says which of its actors outlived it.
    """
    for ref in reversed(refs):
        await runtime.stop(ref)


class Probe(Actor):
    """Records what it is sent; does what its calls say."""

    async def init(self, trap: bool = False, log: list[Any] | ActorRef | None = None) -> None:
        self.trap_exits = trap
        self.seen: list[Any] = []
        self.log = log
        self.held: Caller | None = None

    async def handle_call(self, request: Any, caller: Caller) -> CallResult:
        match request:
            case "seen":
                return Reply(list(self.seen))
            case ("echo", value):
                return Reply(value)
            case ("sleep", seconds):
                await trio.sleep(seconds)
                return Reply("slept")
            case ("busy", str(marker), seconds):
                await write_pid_then_sleep(marker, seconds)
                return Reply("slept")
            case ("crash", text):
                raise RuntimeError(text)
            case ("stop", reason):
                return Stop.replying("bye", reason)
            case "none":
                return None  # type: ignore[return-value]
            case "hold":
                self.held = caller
                return NoReply()
            case ("release", value):
                assert self.held is not None
                self.reply(self.held, value)
                return Reply("released")
            case ("link", ActorRef() as ref):
                self.link(ref)
                return Reply("linked")
            case ("monitor", target):
                return Reply(self.monitor(target))
            case ("demonitor", monitor, flush):
                return Reply(self.demonitor(monitor, flush=flush))
            case ("kill_then_demonitor", ActorRef() as target, monitor, flush):
                # The Down lands in this mailbox while this handler runs.
                self.runtime.kill(target)
                await self.runtime.wait(target)
                return Reply(self.demonitor(monitor, flush=flush))
            case ("spawn_link", cls, args):
                return Reply(await self.spawn(cls, *args, link=True))
            case ("join", group):
                self.join(group)
                return Reply("joined")
            case ("leave", group):
                return Reply(self.leave(group))
            case ("watch", group):
                return Reply(self.watch_group(group))
            case ("send_after", seconds, message):
                self.send_after(seconds, message)
                return Reply("armed")
            case ("call", target, message):
                return Reply(await target.call(message))
            case ("cast", target, message):
                await target.cast(message)
                return Reply("cast")
            case ("try_call", target, message, timeout):
                # The outcome as a value, so that it can travel back from any process.
                try:
                    return Reply(("ok", await target.call(message, timeout=timeout)))
                except ActorExited as exc:
                    return Reply(("exited", exc.reason))
                except Exception as exc:
                    return Reply(("error", type(exc).__name__))
            case ("cast_many", target, count):
                for seq in range(count):
                    await target.cast(("seq", seq))
                return Reply(count)
            case ("by_name", name, message):
                await self.runtime.named(name).cast(message)
                return Reply("sent")
            case ("trap", flag):
                self.trap_exits = flag
                return Reply(flag)
        raise AssertionError(f"unknown request {request!r}")

    async def handle_cast(self, message: Any) -> InfoResult:
        if message == "crash":
            raise ValueError("cast crash")
        self.seen.append(("cast", message))
        return NoReply()

    async def handle_info(self, message: Any) -> InfoResult:
        self.seen.append(("info", message))
        return NoReply()

    async def terminate(self, reason: ExitReason) -> None:
        if isinstance(self.log, list):
            self.log.append((self.ref, reason))
        elif isinstance(self.log, ActorRef):  # a recorder, possibly in another process
            await self.log.cast(("terminated", self.ref, reason))


class Recorder(Actor):
    """Keeps what it is cast, in order; ``call("events")`` returns it.

    It also tells actors elsewhere whether to fail: ``("fail", name)`` answers
    True as many times as ``("failures", name, count)`` asked it to.
    """

    async def init(self) -> None:
        self.events: list[Any] = []
        self.failures: dict[str, int] = {}

    async def handle_cast(self, message: Any) -> InfoResult:
        self.events.append(message)
        return NoReply()

    async def handle_call(self, request: Any, caller: Caller) -> CallResult:
        match request:
            case ("failures", str(name), int(count)):
                self.failures[name] = count
                return Reply(count)
            case ("fail", str(name)):
                left = self.failures.get(name, 0)
                self.failures[name] = max(0, left - 1)
                return Reply(left > 0)
        return Reply(list(self.events))


class FailsToStart(Actor):
    """Its init raises, or declines with ``Ignore()``."""

    async def init(self, decline: bool = False) -> Ignore | None:
        if decline:
            return Ignore()
        raise OSError("no disk")
