"""Module-level functions for the Executor tests (ported from CPython's test_concurrent_futures)."""

from __future__ import annotations

import logging
import os
import sys
import time

INITIALIZER_STATUS = "uninitialized"


def mul(x: int, y: int) -> int:
    return x * y


def sleep_and_raise(t: float) -> None:
    time.sleep(t)
    raise Exception("this is an exception")  # noqa: TRY002 - as in CPython's test


def sleep_and_print(t: float, msg: str) -> None:
    time.sleep(t)
    print(msg)
    sys.stdout.flush()


def init(x: str) -> None:
    global INITIALIZER_STATUS
    INITIALIZER_STATUS = x


def get_init_status() -> str:
    return INITIALIZER_STATUS


def init_fail() -> None:
    logging.getLogger("concurrent.futures").critical("initializer about to fail")
    raise ValueError("error in initializer")


class MyObject:
    def my_method(self) -> None:
        pass


def make_dummy_object(_: object) -> MyObject:
    return MyObject()


def raise_runtime_123() -> None:
    raise RuntimeError(123)  # some comment


class CustomError(Exception):
    pass


def raise_custom(message: str) -> None:
    raise CustomError(message)


def getpid() -> int:
    return os.getpid()


def getenv(name: str) -> str | None:
    return os.environ.get(name)


def sleep_return(t: float, value: object) -> object:
    time.sleep(t)
    return value


def identity(value: object) -> object:
    return value


def touch(path: str) -> None:
    with open(path, "w") as out:
        out.write(str(os.getpid()))


def touch_sleep_return(path: str, t: float, value: object) -> object:
    """Write this worker's pid into ``path`` (so the test knows the call runs), then sleep."""
    touch(path)
    return sleep_return(t, value)


LAMBDA = lambda: 0  # noqa: E731 - a lambda at module level, which pickle refuses too
