"""Codec errors of a process actor name what the user sent: the request, the message, the reply."""

from __future__ import annotations

import pytest
import trio

from actors import ActorExited, Crash, open_runtime
from spawn import EncodeError
from tests.actors.test_process_errors import BadReplier
from tests.leaks import LeakCheck

LONG = 60.0
SET_REASON = "a set is not encodable (send a list or tuple instead)"


async def test_a_process_actors_codec_errors_name_the_request_message_and_reply(
    leaks: LeakCheck,
) -> None:
    with trio.fail_after(LONG):
        async with open_runtime() as runtime:
            actor = await runtime.spawn(BadReplier, placement="process")
            leaks.watch(await actor.call("pid", timeout=LONG))
            with pytest.raises(EncodeError) as request:
                await actor.call(("add", {1}), timeout=LONG)
            assert str(request.value) == (
                f"the request of a call to {actor} cannot be sent: at [1], {SET_REASON}"
            )
            with pytest.raises(EncodeError) as cast:
                await actor.cast({1})
            assert str(cast.value) == f"the message cast to {actor} cannot be sent: {SET_REASON}"
            with pytest.raises(ActorExited) as info:
                await actor.call("a set, please", timeout=LONG)
            reason = info.value.reason
            assert isinstance(reason, Crash)
            assert isinstance(reason.exc, EncodeError)
            assert str(reason.exc) == (
                f"the reply of BadReplier.handle_call cannot be sent: {SET_REASON}"
            )
