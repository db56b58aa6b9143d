"""Supervisor reports through stdlib logging, with stable structured fields.

Every record of the ``"supervisor"`` logger carries, in ``extra``:
``supervisor`` (its path in the tree, ``"/"`` for the root), ``child_id``,
``event`` (one of :data:`EVENTS`), ``reason`` (text, or ``None``) and ``pid`` (the
worker process of a child placed in one, or ``None``).
A crash is logged at ERROR with its traceback; normal and shutdown exits
never at ERROR.
"""

from __future__ import annotations

import logging
from typing import Final

from actors import Crash, ExitReason, Killed, is_abnormal

logger = logging.getLogger("supervisor")

EVENTS: Final = ("started", "exited", "restarting", "escalated", "shutdown")


def report(
    event: str,
    supervisor: str,
    child_id: str | None,
    reason: ExitReason | str | None = None,
    *,
    level: int = logging.INFO,
    message: str = "",
    verb: str | None = None,
    pid: int | None = None,
) -> None:
    """Log one supervisor event; a :class:`~actors.Crash` reason brings its traceback.

    ``pid`` is the worker process of a child placed in one (``None`` for a task).
    """
    if not logger.isEnabledFor(level):
        return  # a service starts and ends a child per connection: keep that cheap
    exc_info = reason.exc if isinstance(reason, Crash) else None
    text = None if reason is None else str(reason)
    who = "" if child_id is None else f" child {child_id}"
    if pid is not None:
        who += f" (pid {pid})"
    logger.log(
        level,
        "supervisor %s:%s %s%s%s",
        supervisor,
        who,
        verb or _VERBS.get(event, event),
        "" if text is None else f" ({text})",
        f": {message}" if message else "",
        exc_info=exc_info,
        extra={
            "supervisor": supervisor,
            "child_id": child_id,
            "event": event,
            "reason": text,
            "pid": pid,
        },
    )


_VERBS: Final = {"escalated": "gave up", "shutdown": "stopped"}


def exit_level(reason: ExitReason) -> int:
    """A child's own exit: ERROR for a crash, WARNING for other abnormal ones, else INFO."""
    if isinstance(reason, Crash):
        return logging.ERROR
    return logging.WARNING if is_abnormal(reason) else logging.INFO


def shutdown_level(reason: ExitReason | None, *, brutal: bool) -> int:
    """A child stopped by its supervisor: killed at its deadline is a WARNING."""
    if reason is None:
        return logging.INFO
    if isinstance(reason, Killed):
        return logging.INFO if brutal else logging.WARNING
    return exit_level(reason)
