"""The service manager's notification protocol (``sd_notify``), without libsystemd.

With ``NOTIFY_SOCKET`` set (a path, or ``@name`` for an abstract socket), each
state is one datagram of ``KEY=value`` lines. Without it every call does nothing.

>>> import os, socket, tempfile
>>> with tempfile.TemporaryDirectory() as tmp:
...     path = os.path.join(tmp, "notify")
...     with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as manager:
...         manager.bind(path)
...         notifier = Notifier.from_environ({"NOTIFY_SOCKET": path})
...         notifier.ready()
...         print(manager.recv(100))
...         notifier.close()
b'READY=1\\nSTATUS=running'
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping, MutableMapping

import trio

from spawn import SERVICE_VARIABLES

logger = logging.getLogger("supervisor")


def take_service_manager_variables(environ: MutableMapping[str, str]) -> dict[str, str]:
    """Remove the service manager's variables (:data:`spawn.SERVICE_VARIABLES`, which no child
    sees) from ``environ``; return what was there."""
    return {name: value for name in SERVICE_VARIABLES if (value := environ.pop(name, None))}


class Notifier:
    """Sends states to the service manager named by ``NOTIFY_SOCKET``.

    A send that fails (the manager went away) is logged once at WARNING and
    never raises: notification is advice, not a duty the service can fail.
    """

    def __init__(self, address: str | None, watchdog_usec: int | None = None) -> None:
        self.address = address
        self.watchdog_usec = watchdog_usec
        self._socket: socket.socket | None = None
        self._warned = False
        if address is not None:
            self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Notifier:
        """From ``NOTIFY_SOCKET``, ``WATCHDOG_USEC`` and ``WATCHDOG_PID`` (as systemd sets them).

        The watchdog is on only when ``WATCHDOG_PID`` is absent or names this process.
        """
        address = environ.get("NOTIFY_SOCKET") or None
        usec: int | None = None
        watchdog_pid = environ.get("WATCHDOG_PID")
        if watchdog_pid is None or watchdog_pid == str(os.getpid()):
            try:
                usec = int(environ.get("WATCHDOG_USEC", "")) or None
            except ValueError:
                usec = None
        return cls(address, usec)

    @property
    def enabled(self) -> bool:
        return self._socket is not None

    def send(self, *states: str) -> None:
        """Send ``states`` (``"READY=1"``, ``"STATUS=..."``) in one datagram."""
        sock, address = self._socket, self.address
        if sock is None or address is None:
            return
        target = "\0" + address[1:] if address.startswith("@") else address
        try:
            sock.sendto("\n".join(states).encode(), target)
        except OSError as exc:
            if not self._warned:
                self._warned = True
                logger.warning("cannot notify the service manager at %s: %s", address, exc)

    def ready(self) -> None:
        self.send("READY=1", "STATUS=running")

    def status(self, text: str) -> None:
        self.send("STATUS=" + text.replace("\n", " "))

    def stopping(self, extend: float) -> None:
        """Stopping: ask for ``extend`` more seconds than the manager's stop timeout."""
        self.send("STOPPING=1", "STATUS=stopping", f"EXTEND_TIMEOUT_USEC={int(extend * 1e6)}")

    def extend(self, seconds: float) -> None:
        self.send(f"EXTEND_TIMEOUT_USEC={int(seconds * 1e6)}")

    async def keep_watchdog(self) -> None:
        """Send ``WATCHDOG=1`` at half of ``WATCHDOG_USEC``, forever (a trio task)."""
        if self.watchdog_usec is None or self._socket is None:
            return
        interval = self.watchdog_usec / 2e6
        while True:
            self.send("WATCHDOG=1")
            await trio.sleep(interval)

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


class RestartStatus(logging.Handler):
    """Turns the supervisors' ``restarting`` and ``escalated`` reports into ``STATUS=`` lines."""

    def __init__(self, notifier: Notifier) -> None:
        super().__init__(logging.INFO)
        self.notifier = notifier

    def emit(self, record: logging.LogRecord) -> None:
        event = getattr(record, "event", None)
        if event in ("restarting", "escalated"):
            self.notifier.status(record.getMessage())
