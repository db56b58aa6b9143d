"""Restart bookkeeping as pure functions: intensity, decisions, backoff.

See docs/semantics.md §6 (intensity), §5 (restart decisions) and §11 (backoff).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors import KILLED, NORMAL, SHUTDOWN, Crash, ExitReason, Shutdown
from supervisor import (
    Backoff,
    Restart,
    add_restart,
    backoff_delay,
    current_attempt,
    exceeded,
    should_restart,
)


def test_item6_entries_older_than_period_are_forgotten() -> None:
    restarts = add_restart((), now=0.0, period=5.0)
    restarts = add_restart(restarts, now=3.0, period=5.0)
    assert restarts == (3.0, 0.0)
    assert add_restart(restarts, now=5.5, period=5.0) == (5.5, 3.0)
    assert add_restart(restarts, now=100.0, period=5.0) == (100.0,)


def test_item6_a_restart_exactly_period_after_another_still_counts() -> None:
    """As supervisor.erl (``R >= Now - Period``): the earlier entry is still in the window."""
    restarts = add_restart(add_restart((), now=10.0, period=5.0), now=15.0, period=5.0)
    assert restarts == (15.0, 10.0)
    assert exceeded(restarts, intensity=1)
    later = add_restart(add_restart((), now=10.0, period=5.0), now=15.001, period=5.0)
    assert not exceeded(later, intensity=1)


def test_item6_with_defaults_the_second_restart_within_the_period_exceeds() -> None:
    first = add_restart((), now=0.0, period=5.0)
    assert not exceeded(first, intensity=1)
    assert exceeded(add_restart(first, now=4.9, period=5.0), intensity=1)


def test_item6_intensity_zero_exceeds_at_the_first_restart() -> None:
    assert exceeded(add_restart((), now=0.0, period=5.0), intensity=0)


@given(
    gaps=st.lists(st.floats(min_value=0.0, max_value=10.0), max_size=20),
    period=st.floats(min_value=0.1, max_value=10.0),
    intensity=st.integers(min_value=0, max_value=5),
)
def test_item6_the_window_holds_exactly_the_recent_restarts(
    gaps: list[float], period: float, intensity: int
) -> None:
    times: list[float] = []
    restarts: tuple[float, ...] = ()
    now = 0.0
    for gap in gaps:
        now += gap
        times.append(now)
        restarts = add_restart(restarts, now=now, period=period)
        in_window = [t for t in times if t >= now - period]
        # takewhile stops at the first old entry: later ones are older still.
        assert len(restarts) == len(in_window)
        assert exceeded(restarts, intensity=intensity) == (len(in_window) > intensity)


CRASH = Crash(RuntimeError("boom"))


@pytest.mark.parametrize(
    ("restart", "reason", "expected"),
    [
        (Restart.PERMANENT, NORMAL, True),
        (Restart.PERMANENT, SHUTDOWN, True),
        (Restart.PERMANENT, CRASH, True),
        (Restart.PERMANENT, KILLED, True),
        (Restart.TRANSIENT, NORMAL, False),
        (Restart.TRANSIENT, SHUTDOWN, False),
        (Restart.TRANSIENT, Shutdown("detail"), False),
        (Restart.TRANSIENT, CRASH, True),
        (Restart.TRANSIENT, KILLED, True),
        (Restart.TEMPORARY, NORMAL, False),
        (Restart.TEMPORARY, CRASH, False),
        (Restart.TEMPORARY, KILLED, False),
    ],
)
def test_item5_the_restart_table(restart: Restart, reason: ExitReason, expected: bool) -> None:
    assert should_restart(restart, reason) is expected


def test_item11_backoff_doubles_from_minimum_up_to_maximum() -> None:
    policy = Backoff(minimum=0.5, maximum=3.0, random_factor=0.0)
    assert [backoff_delay(policy, n, random=0.9) for n in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert backoff_delay(policy, 10_000, random=0.0) == 3.0


def test_item11_backoff_adds_up_to_random_factor_of_the_delay() -> None:
    policy = Backoff(minimum=2.0, maximum=8.0, random_factor=0.25)
    assert backoff_delay(policy, 1, random=0.0) == 4.0
    assert backoff_delay(policy, 1, random=0.5) == 4.5


def test_item11_the_counter_resets_after_a_quiet_period() -> None:
    policy = Backoff(minimum=1.0, maximum=8.0, reset_after=30.0)
    assert current_attempt(policy, 4, ran_for=29.9) == 4
    assert current_attempt(policy, 4, ran_for=30.0) == 0
    assert current_attempt(Backoff(minimum=1.0, maximum=8.0), 4, ran_for=8.0) == 0
