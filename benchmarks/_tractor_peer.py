"""tractor (0.1.0a5) as a peer: run by its own interpreter, it prints one JSON result.

tractor 0.1.0a5 imports ``trio.MultiError`` (gone from trio 0.25) and depends on a
git build of pdbpp, so it lives in an environment of its own, apart from the
project's: see ``benchmarks/_ipc_peers.py``. It imports neither the project
nor msgpack, only the stdlib frame counter. ``python -m benchmarks._tractor_peer
MODE N``, from the repository's root, with MODE ``call`` (seconds per warm portal call, and the
frames each side enters per call) or ``cast`` (messages per second on a stream).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any

import tractor
import trio

from ._frames import FrameCounter

MESSAGE = ("echo", 12345, "payload")
WARM = 50
#: The frames of this process's trio thread (in the echo actor: of its whole thread).
COUNTER = FrameCounter()


async def echo(message: Any) -> Any:
    return message


async def frames_on() -> None:
    COUNTER.start()


async def frames_off() -> int:
    return COUNTER.stop()


@tractor.context  # type: ignore[untyped-decorator]  # tractor has no types here
async def counter(ctx: Any) -> None:
    await ctx.started()
    count = 0
    async with ctx.open_stream() as stream:
        async for message in stream:
            if message == "count":
                await stream.send(count)
            else:
                count += 1


async def _calls(portal: Any, n: int) -> None:
    for _ in range(n):
        await portal.run(echo, message=MESSAGE)


async def call_round_trip(n: int) -> dict[str, float]:
    async with tractor.open_nursery() as nursery:
        portal = await nursery.start_actor("echo", enable_modules=[__name__])
        await _calls(portal, WARM)
        start = time.perf_counter()
        await _calls(portal, n)
        seconds = (time.perf_counter() - start) / n
        await portal.run(frames_on)
        with FrameCounter() as root:
            await _calls(portal, n)
        worker = await portal.run(frames_off)
        await portal.cancel_actor()
    return {"seconds": seconds, "frames_root": root.calls / n, "frames_worker": worker / n}


async def cast_rate(n: int) -> dict[str, float]:
    async with tractor.open_nursery() as nursery:
        portal = await nursery.start_actor("counter", enable_modules=[__name__])
        async with portal.open_context(counter) as (ctx, _), ctx.open_stream() as stream:
            await stream.send("count")
            await stream.receive()
            start = time.perf_counter()
            for _ in range(n):
                await stream.send(MESSAGE)
            await stream.send("count")
            count = await stream.receive()
            elapsed = time.perf_counter() - start
        await portal.cancel_actor()
    if count != n:
        raise RuntimeError(f"the stream counted {count} of {n} messages")
    return {"rate": n / elapsed}


MODES: dict[str, Callable[[int], Any]] = {"call": call_round_trip, "cast": cast_rate}

if __name__ == "__main__":
    mode, size = sys.argv[1], int(sys.argv[2])
    print(json.dumps(trio.run(MODES[mode], size)))
