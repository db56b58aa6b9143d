"""Backoff delays (Akka's): ``minimum * 2**attempt`` capped at ``maximum``, plus jitter.

>>> from supervisor import Backoff
>>> policy = Backoff(minimum=0.1, maximum=1.0, random_factor=0.0)
>>> [backoff_delay(policy, n, random=0.5) for n in range(6)]
[0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
>>> backoff_delay(Backoff(minimum=1.0, maximum=1.0, random_factor=0.5), 0, random=1.0)
1.5
"""

from __future__ import annotations

from ._spec import Backoff


def backoff_delay(policy: Backoff, attempt: int, *, random: float) -> float:
    """The delay before restart number ``attempt`` (0 first); ``random`` is in [0, 1)."""
    base = policy.minimum * 2.0 ** min(attempt, 64)
    capped = min(base, policy.maximum)
    return capped * (1.0 + policy.random_factor * random)


def current_attempt(policy: Backoff, previous: int, *, ran_for: float) -> int:
    """The attempt number of a restart after the child ran for ``ran_for`` seconds.

    ``previous`` is the number of backoff restarts so far; it starts again at
    0 once the child ran for the quiet period ``reset_after`` (default ``maximum``).

    >>> policy = Backoff(minimum=1.0, maximum=8.0)
    >>> current_attempt(policy, 3, ran_for=0.5), current_attempt(policy, 3, ran_for=8.0)
    (3, 0)
    """
    quiet = policy.maximum if policy.reset_after is None else policy.reset_after
    return 0 if ran_for >= quiet else previous
