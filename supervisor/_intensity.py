"""Restart intensity, as supervisor.erl counts it: a list of timestamps and a comparison.

Every restart is recorded with a monotonic timestamp; entries older than
``period`` are forgotten; more than ``intensity`` entries in the window means
the supervisor gives up. As in OTP (``R >= Now - Period``), an entry exactly
``period`` old is still inside the window.

>>> restarts = add_restart((), now=0.0, period=5.0)
>>> exceeded(restarts, intensity=1)
False
>>> restarts = add_restart(restarts, now=5.0, period=5.0)
>>> restarts, exceeded(restarts, intensity=1)
((5.0, 0.0), True)
"""

from __future__ import annotations

from itertools import takewhile

Restarts = tuple[float, ...]
"""Timestamps of recent restarts, newest first."""


def add_restart(restarts: Restarts, *, now: float, period: float) -> Restarts:
    """Record a restart at ``now`` and forget those more than ``period`` before it."""
    threshold = now - period
    return (now, *takewhile(lambda t: t >= threshold, restarts))


def exceeded(restarts: Restarts, *, intensity: int) -> bool:
    """Whether the restarts in the window are more than the supervisor allows."""
    return len(restarts) > intensity
