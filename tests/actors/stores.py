"""An in-memory state store for the actor layer's tests: counts commits, can fail or hold them.

The actor layer knows a store only through :class:`actors.StateStore`; the
real stores (and ``supervisor.MemoryStore``) are tested in tests/supervisor.
This one is synchronous underneath, so it is safe under ``autojump_clock``.
"""

from __future__ import annotations

from dataclasses import dataclass

import trio


@dataclass(frozen=True)
class Stored:
    generation: int
    version: int
    data: bytes


class StaleWrite(Exception):
    pass


class FakeStore:
    def __init__(self) -> None:
        self.values: dict[str, Stored] = {}
        self.puts: list[tuple[str, int]] = []  # (key, generation) of every commit
        self.fail_with: Exception | None = None
        self.gate: trio.Event | None = None  # when set: a put waits for it
        self.waiting = 0

    async def get(self, key: str) -> Stored | None:
        await trio.lowlevel.checkpoint()
        return self.values.get(key)

    async def put(self, key: str, generation: int, version: int, data: bytes) -> None:
        if self.gate is not None:
            self.waiting += 1
            await self.gate.wait()
            self.waiting -= 1
        else:
            await trio.lowlevel.checkpoint()
        if self.fail_with is not None:
            raise self.fail_with
        old = self.values.get(key)
        if old is not None and generation < old.generation:
            raise StaleWrite(key)
        self.values[key] = Stored(generation, version, data)
        self.puts.append((key, generation))
