"""Codec errors through the Executor name what the user sent.

The pool's own cases are in test_pool.py; the codec's in test_codec.py.
"""

from __future__ import annotations

import pytest

from spawn import EncodeError, Executor
from tests.leaks import LeakCheck
from tests.spawn import workload

SET_REASON = "a set is not encodable (send a list or tuple instead)"
ECHO = "tests.spawn.workload.echo"
HINT = '; use codec="pickle" or return plain data'


def test_executor_codec_errors_name_the_argument_and_the_result(leaks: LeakCheck) -> None:
    with Executor(max_workers=1, codec="msgpack") as executor:
        leaks.watch(executor.submit(workload.pid).result(timeout=60))
        with pytest.raises(EncodeError) as arg:
            executor.submit(workload.echo, 1, {3}).result(timeout=60)
        assert str(arg.value) == f"the argument 2 of {ECHO} cannot be sent: {SET_REASON}"
        with pytest.raises(EncodeError) as result:
            executor.submit(workload.a_set).result(timeout=60)
        assert str(result.value) == (
            f"the result of tests.spawn.workload.a_set cannot be sent: {SET_REASON}{HINT}"
        )


def test_executor_map_in_chunks_names_the_users_function(leaks: LeakCheck) -> None:
    """map(chunksize=n) runs a helper over columns of arguments: the error still names
    the user's function and the argument's position, not the helper's envelope."""
    with Executor(max_workers=1, codec="msgpack") as executor:
        leaks.watch(executor.submit(workload.pid).result(timeout=60))
        with pytest.raises(EncodeError) as arg:
            list(executor.map(workload.echo, [1, 2], [3, {4}], chunksize=2, timeout=60))
        assert str(arg.value) == f"the argument 2 of {ECHO} cannot be sent: {SET_REASON}"
        with pytest.raises(EncodeError) as result:
            list(executor.map(workload.a_set_of, [1, 2], chunksize=2, timeout=60))
        assert str(result.value) == (
            f"the result of tests.spawn.workload.a_set_of cannot be sent: {SET_REASON}{HINT}"
        )
