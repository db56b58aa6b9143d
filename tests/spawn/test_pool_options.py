"""Pool options: one record holds the defaults, one pure pass checks them, naming the field."""

from __future__ import annotations

import inspect
import math
import os
from typing import Any

import pytest
import trio

from spawn import open_pool, open_worker_pool
from spawn._options import PoolOptions, check_pool_options
from tests.leaks import LeakCheck
from tests.support import eventually

DEADLINE = 60
ECHO = "tests.spawn.echo_entry"

BAD_OPTIONS: list[tuple[dict[str, Any], type[Exception], str]] = [
    ({"max_workers": 0}, ValueError, "max_workers must be a positive int"),
    ({"max_workers": 2, "spares": 3}, ValueError, r"spares must be in 0\.\.max_workers \(2\)"),
    ({"max_tasks": 0}, ValueError, "max_tasks"),
    ({"max_rss": -1}, ValueError, "max_rss"),
    ({"idle_timeout": math.nan}, ValueError, "idle_timeout"),
    ({"codec": "json"}, ValueError, "codec must be 'msgpack' or 'pickle'"),
    ({"env": "everything"}, ValueError, "env"),
    ({"preload": "json"}, TypeError, "preload"),
    ({"limits": 5}, TypeError, "limits"),
    ({"entry": ""}, ValueError, "entry"),
    ({"initializer": 42}, TypeError, "initializer must be a callable"),
    ({"initializer": print, "entry": ECHO}, ValueError, "initializer runs in function workers"),
    ({"start_timeout": 0}, ValueError, "start_timeout"),
    ({"stop_timeout": -1}, ValueError, "stop_timeout"),
    ({"cancel_grace": math.nan}, ValueError, "cancel_grace"),
    ({"refill_delay": -0.1}, ValueError, "refill_delay must be >= 0"),
    ({"refill_delay": math.nan}, ValueError, "refill_delay"),
    ({"frame_timeout": 0}, ValueError, "frame_timeout must be positive, not 0"),
    ({"frame_timeout": math.nan}, ValueError, "frame_timeout must be positive, not nan"),
    ({"frame_timeout": "10"}, ValueError, "frame_timeout must be positive, not '10'"),
]


@pytest.mark.parametrize(("options", "error", "message"), BAD_OPTIONS)
async def test_a_bad_option_is_refused_naming_it(
    options: dict[str, Any], error: type[Exception], message: str, leaks: LeakCheck
) -> None:
    with pytest.raises(error, match=message):
        check_pool_options(PoolOptions(**options))
    with pytest.raises(error, match=message):
        async with open_pool(**options):
            pass  # pragma: no cover


async def test_a_worker_pool_checks_its_options_the_same_way() -> None:
    with pytest.raises(ValueError, match="refill_delay"):
        async with open_worker_pool(ECHO, refill_delay=-1):
            pass  # pragma: no cover


def test_the_check_resolves_defaults() -> None:
    checked = check_pool_options(PoolOptions(preload=iter(["json"]), initargs=[1]))  # type: ignore[arg-type]
    assert checked.max_workers == (os.cpu_count() or 1)
    assert checked.preload == ("json",)
    assert checked.initargs == (1,)
    assert check_pool_options(checked) == checked


def test_the_pools_take_their_defaults_from_one_record() -> None:
    defaults = PoolOptions()
    for opener in (open_pool, open_worker_pool):
        for name, parameter in inspect.signature(opener).parameters.items():
            if parameter.default is not inspect.Parameter.empty:
                assert parameter.default == getattr(defaults, name), (opener.__name__, name)
    refill = inspect.signature(open_pool).parameters["refill_delay"]
    assert (refill.kind, refill.default) == (inspect.Parameter.KEYWORD_ONLY, 0.025)


async def test_a_taken_spare_is_replaced_refill_delay_later(leaks: LeakCheck) -> None:
    """Not while the lease that took it begins its work: ``refill_delay`` seconds later."""
    echo = {"greeting": ""}
    with trio.fail_after(DEADLINE):
        async with open_pool(max_workers=2, refill_delay=2.0, entry=ECHO, config=echo) as pool:
            assert pool.statistics().idle == 1
            async with pool.lease() as worker:
                leaks.watch(worker.pid)
                await trio.sleep(0.2)
                stats = pool.statistics()
                assert (stats.leased, stats.idle, stats.starting) == (1, 0, 0)

            async def spare_again() -> bool:
                return pool.statistics().idle == 1

            await eventually(spare_again, what="the taken spare replaced")
            assert pool.statistics().started == 2
