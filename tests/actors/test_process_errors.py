"""What a caller of a process actor sees when the actor fails to answer, and where it is logged.

Real time with generous deadlines; the leak check makes sure nothing outlives a test.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import pytest

from actors import Actor, ActorExited, Caller, CallResult, Crash, Reply, open_runtime
from spawn import EncodeError
from tests.leaks import LeakCheck

LONG = 60.0


class BadReplier(Actor):
    """Answers "pid" with its pid, and anything else with a set, which cannot travel."""

    async def handle_call(self, request: Any, caller: Caller) -> CallResult:
        if request == "pid":
            return Reply(os.getpid())
        return Reply({1, 2, 3})


async def test_a_reply_that_cannot_be_sent_reaches_the_caller_as_the_crash_reason(
    leaks: LeakCheck, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    async with open_runtime() as runtime:
        actor = await runtime.spawn(BadReplier, placement="process")
        leaks.watch(await actor.call("pid", timeout=LONG))
        watch = runtime.watch(actor)
        with caplog.at_level(logging.ERROR, logger="actors"), pytest.raises(ActorExited) as info:
            await actor.call("a set, please", timeout=LONG)
        reason = info.value.reason
        assert isinstance(reason, Crash)
        assert isinstance(reason.exc, EncodeError)
        assert "set" in str(reason.exc)
        exited = await watch.wait()  # monitors see the same reason
        assert isinstance(exited, Crash)
        assert str(exited.exc) == str(reason.exc)
    crashes = [r for r in caplog.records if getattr(r, "event", None) == "crashed"]
    assert len(crashes) == 1
    assert "EncodeError" in crashes[0].getMessage()
    assert "Traceback" not in capfd.readouterr().err  # the worker printed nothing raw
