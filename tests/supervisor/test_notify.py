"""The sd_notify client of the daemon, in-process (the daemon's own tests: tests/daemon/)."""

from __future__ import annotations

from pathlib import Path

import pytest

from supervisor._notify import Notifier, take_service_manager_variables


def test_service_manager_variables_are_taken_out() -> None:
    environ = {"NOTIFY_SOCKET": "/run/x", "LISTEN_FDS": "1", "PATH": "/bin", "WATCHDOG_USEC": "5"}
    taken = take_service_manager_variables(environ)
    assert environ == {"PATH": "/bin"}
    assert taken == {"NOTIFY_SOCKET": "/run/x", "LISTEN_FDS": "1", "WATCHDOG_USEC": "5"}


def test_the_watchdog_is_off_for_another_pid() -> None:
    on = Notifier.from_environ({"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "1000"})
    other = Notifier.from_environ(
        {"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "1000", "WATCHDOG_PID": "1"}
    )
    off = Notifier.from_environ({})
    assert (on.watchdog_usec, other.watchdog_usec, off.enabled) == (1000, None, False)
    off.ready()  # nothing to notify: does nothing
    for notifier in (on, other):
        notifier.close()


def test_a_vanished_manager_is_a_warning_not_an_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = Notifier(str(tmp_path / "gone"))
    notifier.ready()
    notifier.status("still here")  # does not raise, and warns only once
    notifier.close()
    warnings = [r for r in caplog.records if "cannot notify" in r.getMessage()]
    assert [r.levelname for r in warnings] == ["WARNING"]
