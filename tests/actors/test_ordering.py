"""docs/semantics.md §21: messages between one sender and one receiver arrive in order."""

from __future__ import annotations

from typing import Any

import trio
import trio.lowlevel
import trio.testing
from hypothesis import given
from hypothesis import strategies as st

from actors import Actor, Caller, InfoResult, MailboxFull, NoReply, Reply, open_runtime

OPS = ("cast", "send", "call", "cast_nowait", "send_nowait")


class Recorder(Actor):
    """Records (sender, seq) for every message, pausing now and then as told."""

    async def init(self, pauses: list[float]) -> None:
        self.pauses = pauses
        self.log: list[tuple[int, int]] = []

    async def _record(self, message: Any) -> None:
        sender, seq = message
        self.log.append((sender, seq))
        pause = self.pauses[len(self.log) % len(self.pauses)]
        if pause:
            await trio.sleep(pause)

    async def handle_call(self, request: Any, caller: Caller) -> Reply:
        if request == "log":
            return Reply(list(self.log))
        await self._record(request)
        return Reply(None)

    async def handle_cast(self, message: Any) -> InfoResult:
        await self._record(message)
        return NoReply()

    async def handle_info(self, message: Any) -> InfoResult:
        await self._record(message)
        return NoReply()


@given(
    bound=st.integers(min_value=1, max_value=3),
    plans=st.lists(st.lists(st.sampled_from(OPS), min_size=1, max_size=30), min_size=2, max_size=5),
    pauses=st.lists(st.sampled_from([0.0, 0.0, 0.001, 0.01]), min_size=1, max_size=8),
    encoded=st.booleans(),
)
def test_item21_per_pair_fifo_under_backpressure(
    bound: int, plans: list[list[str]], pauses: list[float], encoded: bool
) -> None:
    delivered: dict[int, list[int]] = {}

    async def main() -> None:
        async with open_runtime(encode_messages=encoded) as runtime:
            ref = await runtime.spawn(Recorder, pauses, mailbox_size=bound)

            async def sender(me: int, plan: list[str]) -> None:
                ok = delivered.setdefault(me, [])
                for seq, op in enumerate(plan):
                    message = (me, seq)
                    try:
                        match op:
                            case "cast":
                                await ref.cast(message)
                            case "send":
                                await ref.send(message)
                            case "call":
                                await ref.call(message, timeout=None)
                            case "cast_nowait":
                                ref.cast_nowait(message)
                            case "send_nowait":
                                ref.send_nowait(message)
                    except MailboxFull:
                        continue
                    ok.append(seq)
                    await trio.lowlevel.checkpoint()

            async with trio.open_nursery() as nursery:
                for me, plan in enumerate(plans):
                    nursery.start_soon(sender, me, plan)
            log = await ref.call("log", timeout=None)
        for me in range(len(plans)):
            received = [seq for (who, seq) in log if who == me]
            assert received == delivered[me], f"sender {me}: {received} != {delivered[me]}"

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
