"""examples/supervised_tree.py runs as a user would run it, and says what it should."""

from __future__ import annotations

from tests.support import run_python


def test_supervised_tree() -> None:
    done = run_python("-m", "examples.supervised_tree")
    assert done.returncode == 0, done.stderr
    crash = "crash: ValueError: invalid literal for int() with base 10: 'forty-two'"
    assert done.stdout.splitlines() == [
        "counter: 42",
        f"parser stopped ({crash})",
        f"the parser crashed: {crash}",
        "reporter stopped (shutdown)",  # rest_for_one: stopped, then both start again
        "jobs: parser running=True, reporter running=True",
        "parser is a new incarnation: True",
        "reporter restarted with it: True",
        "parser: 42",
        "stopping the tree",
        "reporter stopped (shutdown)",  # bottom-up, in reverse start order
        "parser stopped (shutdown)",
        "counter stopped (shutdown)",
        "done",
    ]
    # the supervisor's reports: the crash with its traceback, then the restart
    assert f"ERROR supervisor: supervisor /jobs: child parser exited ({crash})" in done.stderr
    assert "INFO supervisor: supervisor /jobs: child parser restarting" in done.stderr
    assert "Traceback (most recent call last)" in done.stderr
