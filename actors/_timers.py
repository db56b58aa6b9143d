"""Timers: ``send_after`` delivers a message to an actor later, unless it was cancelled."""

from __future__ import annotations

from typing import final

import trio

from ._mailbox import SYSTEM, Mailbox


@final
class Timer:
    """A pending ``send_after``; :meth:`cancel` it to drop the message."""

    __slots__ = ("_cancelled", "_fired", "_scope")

    def __init__(self) -> None:
        self._scope = trio.CancelScope()
        self._fired = False
        self._cancelled = False

    def cancel(self) -> bool:
        """Drop the message if it was not delivered yet; returns whether it was pending."""
        pending = not (self._fired or self._cancelled)
        self._cancelled = True
        self._scope.cancel()
        return pending


def start_timer(
    nursery: trio.Nursery, timers: set[Timer], mailbox: Mailbox, seconds: float, message: object
) -> Timer:
    """Put ``message`` in ``mailbox`` (for ``handle_info``) after ``seconds``, from ``nursery``.

    The timer is in ``timers`` (an actor's) while it is pending; the actor's exit
    cancels every timer it still has.
    """
    if not seconds >= 0:
        raise ValueError(f"send_after needs seconds >= 0, not {seconds!r}")
    timer = Timer()
    timers.add(timer)
    nursery.start_soon(_run, timers, mailbox, timer, seconds, message)
    return timer


async def _run(
    timers: set[Timer], mailbox: Mailbox, timer: Timer, seconds: float, message: object
) -> None:
    with timer._scope:
        await trio.sleep(seconds)
        timer._fired = True
        mailbox.put_system((SYSTEM, message, None, None))
    timers.discard(timer)
