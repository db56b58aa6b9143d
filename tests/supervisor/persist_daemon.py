"""A daemon-like program for the kill tests: a tree with one strict persistent counter.

``python -m tests.supervisor.persist_daemon STATE_DIR COUNT`` opens the SQLite
store in STATE_DIR, prints ``start <value>`` (the restored count), then makes
COUNT strict increments through calls (forever if COUNT is 0), printing
``ack <value>`` after each answer, then ``done`` and waits to be killed.
"""

from __future__ import annotations

import sys

import trio

from supervisor import ChildSpec, Supervisor, open_sqlite_store, open_tree
from tests.actors.persistent_actors import Counter

TREE = Supervisor(children=[ChildSpec("counter", Counter)])


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def main(state_dir: str, count: int) -> None:
    async with open_sqlite_store(state_dir) as store, open_tree(TREE, store=store) as root:
        counter = root.child("counter")
        say(f"start {await counter.call('get')}")
        done = 0
        while count == 0 or done < count:
            say(f"ack {await counter.call('add')}")
            done += 1
        say("done")
        await trio.sleep_forever()


if __name__ == "__main__":
    trio.run(main, sys.argv[1], int(sys.argv[2]))
