"""Module-level functions for the Executor tests (ported from CPython's test_concurrent_futures)."""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
import time
from typing import Any

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


@dataclasses.dataclass(frozen=True)
class Result:
    """A user's result type, which msgpack cannot carry and pickle can."""

    value: int


def make_result(value: int) -> Result:
    return Result(value)


class AppError(Exception):
    """A user's exception type, caught with ``except AppError`` in the parent."""


def raise_app_error(message: str) -> None:
    raise AppError(message)


class Scaler:
    """A module-level object whose bound method and classmethod travel by value."""

    factor = 10

    def __init__(self, factor: int) -> None:
        self.instance_factor = factor

    def scale(self, x: int) -> int:
        return x * self.instance_factor

    @classmethod
    def scale_by_class(cls, x: int) -> int:
        return x * cls.factor


def raise_base(kind: str) -> None:
    raise {"exit": SystemExit, "interrupt": KeyboardInterrupt}[kind](kind)


class ExitOnUnpickle:
    """A value whose unpickling raises SystemExit (in the parent, for a result)."""

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return sys.exit, (3,)


def return_exit_on_unpickle() -> ExitOnUnpickle:
    return ExitOnUnpickle()


def set_event(event: Any) -> bool:
    event.set()
    return True


def put_in(queue: Any, value: object) -> None:
    queue.put(value)
