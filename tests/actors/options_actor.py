"""An actor whose module records, when it is imported, what its worker process was started with.

Its worker imports this module before the actor's ``init`` runs, so the values
show whether a worker's options applied before any of the actor's code ran.
With ``LETITCRASH_TEST_SLOW_AFTER`` set to a path, the first process to import
the module creates that file and goes on; every later one finds it and hangs
(a worker that cannot finish starting within its ``start_timeout``).
"""

from __future__ import annotations

import os
import resource
import time
from typing import Any

from actors import Actor, Caller, CallResult, Reply

MODE_VARIABLE = "LETITCRASH_TEST_MODE"
SLOW_VARIABLE = "LETITCRASH_TEST_SLOW_AFTER"

#: What the importing process ran with, before any other code of this module.
AT_IMPORT: dict[str, Any] = {
    "nofile": resource.getrlimit(resource.RLIMIT_NOFILE),
    "fsize": resource.getrlimit(resource.RLIMIT_FSIZE),
    "mode": os.environ.get(MODE_VARIABLE),
    "pid": os.getpid(),
}

_slow_after = os.environ.get(SLOW_VARIABLE)
if _slow_after:
    try:
        os.close(os.open(_slow_after, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        time.sleep(120)  # killed by its pool at the start timeout long before


class Recording(Actor):
    """Answers "at_import" with :data:`AT_IMPORT`, "pid" with its process's pid."""

    async def handle_call(self, request: Any, caller: Caller) -> CallResult:
        if request == "at_import":
            return Reply(AT_IMPORT)
        return Reply(os.getpid())
