"""The daemon's log: one line per event (text) or JSON lines, to stderr or a file.

>>> import io, logging
>>> record = logging.LogRecord("supervisor", logging.INFO, "", 0, "child %s up", ("db",), None)
>>> record.created = 0.0
>>> record.child_id = "db"
>>> line = JsonFormatter().format(record)
>>> line[:60]
'{"time": "1970-01-01T00:00:00.000Z", "level": "INFO", "logge'
>>> line[60:]
'r": "supervisor", "message": "child db up", "child_id": "db"}'
"""

from __future__ import annotations

import json
import logging
import os
import time
import traceback
from typing import Any, Final, TextIO

#: Attributes every LogRecord has: the rest were given in ``extra`` and are fields.
_STANDARD: Final = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}


def _timestamp(created: float) -> str:
    millis = int(created * 1000) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created)) + f".{millis:03d}Z"


class TextFormatter(logging.Formatter):
    """``TIME LEVEL logger: message``; a traceback follows on indented lines."""

    def format(self, record: logging.LogRecord) -> str:
        line = (
            f"{_timestamp(record.created)} {record.levelname} {record.name}: {record.getMessage()}"
        )
        if record.exc_info and record.exc_info[1] is not None:
            trace = "".join(traceback.format_exception(record.exc_info[1]))
            line += "\n" + "\n".join("  " + part for part in trace.rstrip().splitlines())
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the ``extra`` fields,
    and ``traceback`` (text) for a record with an exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                plain = isinstance(value, str | int | float | bool | None)
                entry[key] = value if plain else repr(value)
        if record.exc_info and record.exc_info[1] is not None:
            entry["traceback"] = "".join(traceback.format_exception(record.exc_info[1]))
        return json.dumps(entry, ensure_ascii=False)


class ReopenableFile(logging.StreamHandler[TextIO]):
    """A log file (created 0600) that :meth:`reopen` opens again, as after a rotation."""

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(self._open())

    def _open(self) -> TextIO:
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        return os.fdopen(fd, "a", encoding="utf-8", buffering=1)

    def reopen(self) -> None:
        stream = self._open()
        self.acquire()
        try:
            old, self.stream = self.stream, stream
        finally:
            self.release()
        old.close()

    def close(self) -> None:
        self.acquire()
        try:
            self.stream.close()
        finally:
            self.release()
        super().close()


LOG_FORMATS: Final = ("text", "json")


def configure_logging(
    *, fmt: str = "text", level: str = "INFO", path: str | None = None
) -> logging.Handler:
    """Send every log record at ``level`` or above to stderr (or ``path``) in ``fmt``.

    Replaces the root logger's handlers; returns the handler (a
    :class:`ReopenableFile` with ``path``).
    """
    handler: logging.Handler = logging.StreamHandler() if path is None else ReopenableFile(path)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    return handler
