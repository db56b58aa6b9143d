"""``letitcrash run``: a supervision tree as a foreground service (docs/daemon.md).

The daemon opens the embedded SQLite store in its state directory, starts the
tree, tells the service manager (``sd_notify``) and waits for a signal:

- SIGTERM or SIGINT: an orderly stop (bottom-up, each child's shutdown budget,
  persistent state flushed), exit 0; the same after the root stopped itself
  (``auto_shutdown``). A second SIGTERM or SIGINT kills what is left at once
  (no ``terminate``; committed state stays): exit 143 or 130.
- The root gave up (intensity exceeded) or the tree failed to start: exit 1.
- SIGHUP: the log file is opened again (after a rotation).
"""

from __future__ import annotations

import json
import logging
import os
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Final

import trio

from actors import Runtime, is_abnormal, open_runtime
from spawn import Reaper, open_reaper, record_programs, stop_survivors, write_private

from ._control import check_socket_path, serve_control
from ._exceptions import SocketPathTooLong, StartFailed, TreeExited
from ._handles import SupervisorHandle
from ._listener import listener_address, listener_paths
from ._logs import ReopenableFile
from ._metrics import serve_metrics
from ._notify import Notifier, RestartStatus
from ._paths import control_socket_path
from ._server import ESCALATED
from ._spec import Supervisor
from ._store import StateStore
from ._store_errors import StoreInUse, UnsafeStoreDirectory
from ._store_sqlite import open_sqlite_store
from ._tree import open_tree

logger = logging.getLogger("supervisor")

EXIT_OK: Final = 0
EXIT_GAVE_UP: Final = 1
EXIT_USAGE: Final = 2  #: bad input, or a state directory the daemon cannot use
#: After a second SIGINT or SIGTERM (128 + the signal, as a shell reports it).
EXIT_KILLED: Final = {signal.SIGINT: 130, signal.SIGTERM: 143}
#: How long orphaned descendants get between SIGTERM and SIGKILL at the end.
ORPHAN_BUDGET: Final = 5.0
#: While stopping, how far ahead the service manager's stop timeout is pushed.
EXTEND_EVERY: Final = 5.0

LISTENERS_FILE: Final = "listeners.json"
#: The entry of ``--metrics-port`` in it (no child's path starts with a slash).
METRICS_KEY: Final = "/metrics"
#: The program children of this run, for the next run to stop if this one was killed.
PROGRAMS_FILE: Final = "programs.json"


@dataclass
class Daemon:
    """One run of a tree as a service: its signals, its exit code."""

    spec: Supervisor
    name: str
    state_dir: Path
    notifier: Notifier
    log_handler: logging.Handler | None = None
    metrics_port: int | None = None
    exit_code: int = EXIT_OK
    _body: trio.CancelScope = field(default_factory=trio.CancelScope)
    _runtime: Runtime | None = None
    _reaper: Reaper | None = None
    _stopping: bool = False
    _escalated: trio.Event = field(default_factory=trio.Event)
    _stop_asked: trio.Event = field(default_factory=trio.Event)

    async def run(self) -> int:
        """Run until stopped; the exit code."""
        status = RestartStatus(self.notifier)
        if self.notifier.enabled:  # else every supervisor record would pass it for nothing
            logging.getLogger("supervisor").addHandler(status)
        signals = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
        try:
            with trio.open_signal_receiver(*signals) as received:
                async with trio.open_nursery() as services:
                    services.start_soon(self._watch, received)
                    services.start_soon(self._keep_extending)
                    try:
                        await self._serve()
                    finally:
                        services.cancel_scope.cancel()
        finally:
            logging.getLogger("supervisor").removeHandler(status)
        return self.exit_code

    async def _serve(self) -> None:
        try:
            self.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            check_socket_path(control_socket_path(self.state_dir))
        except (OSError, SocketPathTooLong) as exc:
            logger.error("%s: the state directory cannot serve: %s", self.name, exc)
            self._set_exit(EXIT_USAGE)
            return
        programs = self.state_dir / PROGRAMS_FILE
        stopped = await trio.to_thread.run_sync(stop_survivors, programs)
        if stopped:
            logger.warning("%s: stopped %s, left by an earlier run", self.name, stopped)
        try:
            async with open_reaper(stop_budget=ORPHAN_BUDGET) as reaper:
                self._reaper = reaper
                with record_programs(programs):
                    async with (
                        open_sqlite_store(self.state_dir) as store,
                        open_runtime(store=store) as runtime,
                    ):
                        self._runtime = runtime
                        with self._body:
                            async with open_tree(self.spec, runtime=runtime) as root:
                                await self._operate(root, store)
            if reaper.adopted or reaper.stopped:
                logger.info(
                    "%s: reaped %d orphaned processes, stopped %d at the end",
                    self.name,
                    reaper.adopted,
                    reaper.stopped,
                )
        except TreeExited as exc:
            if exc.reason == ESCALATED or is_abnormal(exc.reason):
                logger.error("%s: the root supervisor gave up (%s)", self.name, exc.reason)
                self._set_exit(EXIT_GAVE_UP)
            else:
                logger.info("%s: the root supervisor stopped (%s)", self.name, exc.reason)
        except StartFailed as exc:
            logger.error("%s: the tree failed to start: %s", self.name, exc)
            self._set_exit(EXIT_GAVE_UP)
        except (StoreInUse, UnsafeStoreDirectory) as exc:  # before anything started
            logger.error("%s: cannot open the state store: %s", self.name, exc)
            self._set_exit(EXIT_USAGE)
        logger.info("%s: stopped", self.name, extra={"event": "daemon stopped"})

    async def _operate(self, root: SupervisorHandle, store: StateStore) -> None:
        """While the tree runs: the control socket, metrics, the watchdog."""
        async with trio.open_nursery() as nursery:
            socket = control_socket_path(self.state_dir)
            stop = partial(self.stop, "a stop request on the control socket")
            control = partial(serve_control, root, socket, stop=stop, store=store)
            await nursery.start(control)
            metrics = None
            if self.metrics_port is not None:
                metrics = await nursery.start(partial(serve_metrics, root, self.metrics_port))
                logger.info("metrics: serving on 127.0.0.1:%d", metrics)
            await self._announce(root, metrics)
            nursery.start_soon(self.notifier.keep_watchdog)

    def stop(self, why: str) -> None:
        """Start the orderly stop (once)."""
        if self._stopping:
            return
        self._stopping = True
        self._stop_asked.set()
        logger.info("%s: %s, stopping in order", self.name, why)
        self.notifier.stopping(2 * EXTEND_EVERY)
        self._body.cancel()

    def _set_exit(self, code: int) -> None:
        if self.exit_code == EXIT_OK:
            self.exit_code = code

    async def _announce(self, root: SupervisorHandle, metrics: int | None) -> None:
        """Log and record where the tree's listeners (and the metrics) listen; tell the
        service manager."""
        bound: dict[str, object] = {}
        if metrics is not None:
            bound[METRICS_KEY] = ("127.0.0.1", metrics)
        for path in listener_paths(self.spec):
            address = await listener_address(root.supervisor(path))
            bound[path] = address
            where = address if isinstance(address, str) else f"{address[0]}:{address[1]}"
            logger.info("listener %s: listening on %s", path, where, extra={"child_id": path})
        text = json.dumps(bound, indent=1) + "\n"
        write_private(self.state_dir / LISTENERS_FILE, text.encode())
        logger.info(
            "%s: running (pid %d, state in %s)",
            self.name,
            os.getpid(),
            self.state_dir,
            extra={"event": "daemon ready"},
        )
        self.notifier.ready()

    async def _watch(self, received: AsyncIterator[int]) -> None:
        async with trio.open_nursery() as nursery:
            async for signum in received:
                name = signal.Signals(signum).name
                if signum == signal.SIGHUP:
                    self._reopen_log()
                elif not self._stopping:
                    self.stop(name)
                elif not self._escalated.is_set():
                    self._escalated.set()
                    self.exit_code = EXIT_KILLED[signal.Signals(signum)]
                    logger.warning("%s: second %s, killing what is left", self.name, name)
                    if self._reaper is not None:
                        self._reaper.stop_budget = 0.0  # orphans too: SIGKILL at once
                    runtime = self._runtime
                    if runtime is not None:
                        nursery.start_soon(partial(runtime.aclose, kill=True))

    async def _keep_extending(self) -> None:
        await self._stop_asked.wait()
        while True:
            await trio.sleep(EXTEND_EVERY)
            self.notifier.extend(2 * EXTEND_EVERY)

    def _reopen_log(self) -> None:
        handler = self.log_handler
        if isinstance(handler, ReopenableFile):
            handler.reopen()
            logger.info("%s: SIGHUP, log file %s reopened", self.name, handler.path)
        else:
            logger.info("%s: SIGHUP, no log file to reopen", self.name)
