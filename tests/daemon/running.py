"""`letitcrash run` in a subprocess, as an operator runs it, with its JSON log read as it comes.

The daemon never runs in the test process (it is a subreaper and takes signals).
Its log goes to stderr as JSON lines (`--log-format json`); a reader thread keeps
every record, so a test waits for an event ("daemon ready") instead of sleeping.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.support import ROOT

#: The `letitcrash` command of the environment running the suite.
LETITCRASH = str(Path(sys.executable).with_name("letitcrash"))
DEADLINE = 60.0

Record = dict[str, Any]


class Daemon:
    """One `letitcrash run` process: its log records, its signals, its exit."""

    def __init__(
        self,
        target: str,
        state_dir: Path,
        *args: str,
        env: dict[str, str] | None = None,
        prefix: Sequence[str] = (),
        log_format: str = "json",
    ) -> None:
        self.argv = [
            *prefix,
            LETITCRASH,
            "run",
            target,
            "--state-dir",
            str(state_dir),
            "--log-format",
            log_format,
            *args,
        ]
        self.state_dir = state_dir
        self.records: list[Record] = []
        self.raw: list[str] = []  # lines that are not JSON (tracebacks printed raw would be here)
        self._changed = threading.Condition()
        self.process = subprocess.Popen(
            self.argv,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
            start_new_session=True,  # close() can end what it started (a wrapper's child too)
        )
        self._readers = [
            threading.Thread(target=self._read, args=(pipe,), daemon=True)
            for pipe in (self.process.stdout, self.process.stderr)
        ]
        for reader in self._readers:
            reader.start()

    @property
    def pid(self) -> int:
        return self.process.pid

    def _read(self, pipe: Any) -> None:
        for line in pipe:
            line = line.rstrip("\n")
            try:
                record = json.loads(line)
            except ValueError:
                record = None
            with self._changed:
                if isinstance(record, dict):
                    self.records.append(record)
                else:
                    self.raw.append(line)
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_for(
        self, check: Callable[[Record], bool], what: str, timeout: float = DEADLINE
    ) -> Record:
        """The first record for which ``check`` holds, waiting up to ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        seen = 0
        with self._changed:
            while True:
                for record in self.records[seen:]:
                    if check(record):
                        return record
                seen = len(self.records)
                left = deadline - time.monotonic()
                if left <= 0 or (self.process.poll() is not None and not self._alive()):
                    raise AssertionError(f"no log record of {what}; log:\n{self.text()}")
                self._changed.wait(min(left, 0.5))

    def _alive(self) -> bool:
        return any(reader.is_alive() for reader in self._readers)

    def wait_event(self, event: str, timeout: float = DEADLINE) -> Record:
        return self.wait_for(lambda record: record.get("event") == event, event, timeout)

    def ready(self, timeout: float = DEADLINE) -> Record:
        return self.wait_event("daemon ready", timeout)

    def port(self, listener: str) -> int:
        bound = json.loads((self.state_dir / "listeners.json").read_text())
        return int(bound[listener][1])

    def send(self, sig: int) -> None:
        self.process.send_signal(sig)

    def wait(self, timeout: float = DEADLINE) -> int:
        """Wait for the exit (and the end of its output); its exit code."""
        code = self.process.wait(timeout)
        for reader in self._readers:
            reader.join(timeout)
        return code

    def count(self, check: Callable[[Record], bool]) -> int:
        with self._changed:
            return sum(1 for record in self.records if check(record))

    def messages(self) -> list[str]:
        with self._changed:
            return [str(record.get("message")) for record in self.records]

    def text(self) -> str:
        with self._changed:
            lines = [json.dumps(record) for record in self.records] + self.raw
        return "\n".join(lines)

    def close(self) -> None:
        """Kill it if it still runs, and its process group (what it started, by its pgid:
        a wrapper's daemon); reap it; close its pipes."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(DEADLINE)
        for reader in self._readers:
            reader.join(10)
        for pipe in (self.process.stdout, self.process.stderr):
            if pipe is not None:
                pipe.close()


@contextmanager
def running(target: str, state_dir: Path, *args: str, **kwargs: Any) -> Iterator[Daemon]:
    daemon = Daemon(target, state_dir, *args, **kwargs)
    try:
        yield daemon
    finally:
        daemon.close()


class LineClient:
    """A blocking line client with a timeout on every read (for the kv service)."""

    def __init__(self, port: int, timeout: float = 10.0) -> None:
        self.socket = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buffer = b""

    def ask(self, line: str) -> str:
        self.socket.sendall(line.encode() + b"\n")
        while b"\n" not in self.buffer:
            data = self.socket.recv(65536)
            if not data:
                raise EOFError(self.buffer)
            self.buffer += data
        answer, self.buffer = self.buffer.split(b"\n", 1)
        return answer.decode()

    def close(self) -> None:
        self.socket.close()

    def __enter__(self) -> LineClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def pid_gone(pid: int, timeout: float, *, reaped: bool = False) -> bool:
    """Whether ``pid`` (not our child) is gone within ``timeout`` seconds: a zombie counts
    as gone, unless ``reaped`` (then it must have left /proc altogether)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat", "rb") as stat:
                state = stat.read().rsplit(b")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state == b"Z" and not reaped:
            return True
        time.sleep(0.02)
    return False


def wait_file(path: Path, text: str = "", timeout: float = DEADLINE) -> str:
    """The stripped contents of ``path`` once it holds ``text`` (or, without it, anything)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = path.read_text().strip() if path.exists() else ""
        if found and text in found:
            return found
        time.sleep(0.02)
    raise AssertionError(f"{path} never held {text or 'anything'!r}")


SIGNALS = {"SIGTERM": signal.SIGTERM, "SIGINT": signal.SIGINT}
