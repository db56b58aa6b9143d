"""Run by test_asyncio_process: a uvloop-hosted root that waits for a signal in trio.

``python -m tests.actors.uvloop_signals term``: a trio signal receiver takes
SIGTERM; ``int``: Ctrl-C (SIGINT) raises KeyboardInterrupt as under trio.run.
Prints ``ready`` once it waits, then what happened, in order.
"""

from __future__ import annotations

import signal
import sys

import trio

from actors import open_runtime, run_on_uvloop
from tests.actors.asyncio_actors import Stubborn


async def main(mode: str) -> str:
    log: list[str] = []
    try:
        async with open_runtime() as runtime:
            await runtime.spawn(Stubborn, False, log)
            with trio.open_signal_receiver(signal.SIGTERM) as signals:
                print("ready", flush=True)
                if mode == "term":
                    async for signum in signals:
                        print(f"trio got {signal.Signals(signum).name}", flush=True)
                        break
                else:
                    await trio.sleep_forever()
    finally:
        print(f"finally ran, the actor's terminate first: {log}", flush=True)
    return "returned"


if __name__ == "__main__":
    try:
        print(run_on_uvloop(main, sys.argv[1]), flush=True)
    except KeyboardInterrupt:
        print("KeyboardInterrupt", flush=True)
