"""The Executor as a drop-in for ProcessPoolExecutor (issue 12): only the import changes.

Each kind of callable and each defect the issue lists, with the pickle default and,
where it applies, the hardened msgpack mode. What each codec carries is in the README
("spawn.Executor") and in the Executor's docstring.
"""

from __future__ import annotations

import functools
import gc
import operator
import pickle
import time
import weakref
from collections.abc import Iterator
from concurrent.futures import CancelledError
from concurrent.futures.process import BrokenProcessPool, _RemoteTraceback
from pathlib import Path

import pytest

from spawn import EncodeError, Executor, NotByReference, RemoteError
from tests.leaks import LeakCheck
from tests.support import run_python

from . import executor_funcs as funcs

DEADLINE = 60


@pytest.fixture
def pickled(leaks: LeakCheck) -> Iterator[Executor]:
    with Executor(max_workers=2) as executor:
        yield executor


@pytest.fixture
def hardened(leaks: LeakCheck) -> Iterator[Executor]:
    with Executor(max_workers=2, codec="msgpack") as executor:
        yield executor


def test_a_dataclass_result_arrives_with_pickle_and_msgpack_names_the_fix(
    pickled: Executor, hardened: Executor
) -> None:
    assert pickled.submit(funcs.make_result, 7).result(DEADLINE) == funcs.Result(7)
    with pytest.raises(EncodeError) as info:
        hardened.submit(funcs.make_result, 7).result(DEADLINE)
    assert str(info.value) == (
        "the result of tests.spawn.executor_funcs.make_result cannot be sent: "
        "a tests.spawn.executor_funcs.Result is not encodable; "
        'use codec="pickle" or return plain data'
    )


def test_a_user_exception_is_caught_by_its_type_with_the_remote_traceback(
    pickled: Executor,
) -> None:
    with pytest.raises(funcs.AppError, match=r"^boom$") as info:
        pickled.submit(funcs.raise_app_error, "boom").result(DEADLINE)
    cause = info.value.__cause__
    assert type(cause) is _RemoteTraceback
    assert "raise AppError(message)" in cause.tb


def test_msgpack_boxes_a_user_exception_with_a_short_str(hardened: Executor) -> None:
    with pytest.raises(RemoteError) as info:
        hardened.submit(funcs.raise_app_error, "boom").result(DEADLINE)
    assert str(info.value) == "tests.spawn.executor_funcs.AppError: boom"
    assert "raise AppError(message)" in info.value.traceback
    assert "raise AppError(message)" in str(info.value.__cause__)


@pytest.mark.parametrize(
    ("fn", "expected"),
    [
        (functools.partial(operator.mul, 6), 42),
        (funcs.Scaler(6).scale, 42),
        (funcs.Scaler.scale_by_class, 70),
        (abs, 7),
    ],
    ids=["partial", "bound method", "bound classmethod", "builtin"],
)
def test_each_kind_of_callable_runs_with_pickle(
    pickled: Executor, fn: functools.partial[int], expected: int
) -> None:
    arg = -7 if fn is abs else 7
    assert pickled.submit(fn, arg).result(DEADLINE) == expected


def test_msgpack_runs_builtins_by_reference_and_refuses_what_has_no_reference(
    hardened: Executor,
) -> None:
    assert hardened.submit(abs, -7).result(DEADLINE) == 7
    for fn in (functools.partial(operator.mul, 6), funcs.Scaler(6).scale):
        with pytest.raises(NotByReference):
            hardened.submit(fn, 7)


def test_map_of_a_partial_in_chunks(pickled: Executor) -> None:
    got = list(pickled.map(functools.partial(operator.add, 100), range(10), chunksize=4))
    assert got == [100 + i for i in range(10)]


def test_a_lambda_fails_its_future_with_the_stdlib_error(pickled: Executor) -> None:
    future = pickled.submit(funcs.LAMBDA)
    with pytest.raises(pickle.PicklingError):
        future.result(DEADLINE)
    assert pickled.submit(abs, -1).result(DEADLINE) == 1


@pytest.mark.parametrize("codec", ["pickle", "msgpack"])
def test_functions_and_classes_in_main_of_a_script_run_by_path(tmp_path: Path, codec: str) -> None:
    """The worker runs the script as __mp_main__: its functions resolve, its main block
    does not run there (the marker line is printed once, by the parent)."""
    script = tmp_path / "user_script.py"
    script.write_text(
        "import dataclasses\n"
        "from spawn import Executor\n"
        "@dataclasses.dataclass\n"
        "class Point:\n"
        "    x: int\n"
        "def double(x):\n"
        "    return x * 2\n"
        "def make_point(x):\n"
        "    return Point(x)\n"
        "if __name__ == '__main__':\n"
        "    print('main block ran', flush=True)\n"
        f"    with Executor(max_workers=2, codec={codec!r}) as ex:\n"
        "        print(list(ex.map(double, range(5))))\n"
        "        print(list(ex.map(double, range(5), chunksize=2)))\n"
        f"        if {codec!r} == 'pickle':\n"
        "            print(ex.submit(make_point, 3).result() == Point(3))\n"
        "        else:\n"
        "            print(True)\n"
    )
    done = run_python(str(script), timeout=DEADLINE)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "main block ran",
        "[0, 2, 4, 6, 8]",
        "[0, 2, 4, 6, 8]",
        "True",
    ]


def test_a_result_whose_unpickling_exits_fails_only_its_future(pickled: Executor) -> None:
    """Defect 1: SystemExit raised while the parent unpickles a result fails that future
    with BrokenProcessPool; a future running meanwhile completes; the executor serves on."""
    running = pickled.submit(funcs.sleep_return, 1.0, "ran")
    bad = pickled.submit(funcs.return_exit_on_unpickle)
    with pytest.raises(BrokenProcessPool, match="could not be unpickled") as info:
        bad.result(DEADLINE)
    assert isinstance(info.value.__cause__, SystemExit)
    assert running.result(DEADLINE) == "ran"
    assert pickled.submit(abs, -3).result(DEADLINE) == 3


def test_an_executor_dropped_without_shutdown_is_collected(leaks: LeakCheck) -> None:
    """Defect 2: nothing keeps a dropped executor alive; its workers stop after it."""
    executor = Executor(max_workers=1)
    leaks.watch(executor.submit(funcs.getpid).result(DEADLINE))
    collected = weakref.ref(executor)
    del executor
    gc.collect()
    assert collected() is None
    for pid in leaks.pidfds:
        assert leaks.gone(pid, timeout=DEADLINE)


@pytest.mark.parametrize("codec", ["pickle", "msgpack"])
@pytest.mark.parametrize(
    ("kind", "exc_type"), [("exit", SystemExit), ("interrupt", KeyboardInterrupt)]
)
def test_system_exit_and_keyboard_interrupt_arrive_as_themselves(
    leaks: LeakCheck, codec: str, kind: str, exc_type: type[BaseException]
) -> None:
    """Defect 3."""
    with Executor(max_workers=1, codec=codec) as executor:  # type: ignore[arg-type]
        with pytest.raises(exc_type):
            executor.submit(funcs.raise_base, kind).result(DEADLINE)
        assert executor.submit(abs, -2).result(DEADLINE) == 2


def test_a_manager_proxy_authenticates_in_the_worker() -> None:
    """Defect 4: workers hold the parent's authkey, so Manager proxies (an Event, a Queue)
    work there. In a child interpreter: a Manager leaves a resource tracker behind."""
    script = (
        "import multiprocessing\n"
        "from spawn import Executor\n"
        "from tests.spawn.executor_funcs import set_event, put_in\n"
        "with multiprocessing.Manager() as manager, Executor(max_workers=1) as ex:\n"
        "    event, queue = manager.Event(), manager.Queue()\n"
        "    print(ex.submit(set_event, event).result(60), event.is_set())\n"
        "    ex.submit(put_in, queue, 42).result(60)\n"
        "    print(queue.get(timeout=60))\n"
    )
    done = run_python("-c", script, timeout=DEADLINE)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "True", "42"]


@pytest.mark.parametrize("codec", ["pickle", "msgpack"])
def test_pipelined_futures_cancel_and_never_run(
    leaks: LeakCheck, tmp_path: Path, codec: str
) -> None:
    """Defect 5: with one busy worker, cancel() of a queued future returns True (it was
    pipelined to the worker), shutdown(cancel_futures=True) cancels the rest, and the
    worker skips every one of them: none of their marker files appears."""
    marker = tmp_path / "running"
    executor = Executor(max_workers=1, codec=codec)  # type: ignore[arg-type]
    running = executor.submit(funcs.touch_sleep_return, str(marker), 1.0, "ran")
    deadline = time.monotonic() + DEADLINE
    while not running.running():  # the worker reported the start
        assert time.monotonic() < deadline, "the first future never started"
        time.sleep(0.01)
    queued = [executor.submit(funcs.touch, str(tmp_path / f"q{i}")) for i in range(20)]
    assert not any(f.running() for f in queued)
    assert queued[0].cancel()
    executor.shutdown(wait=True, cancel_futures=True)
    assert running.result(DEADLINE) == "ran"
    assert all(f.cancelled() for f in queued)
    with pytest.raises(CancelledError):
        queued[5].result(0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["running"]


def test_a_failed_initializer_breaks_the_executor(leaks: LeakCheck) -> None:
    """Defect 6: as the stdlib's: the pending futures fail with BrokenProcessPool, later
    submits raise it, and shutdown still reaps every worker."""
    executor = Executor(max_workers=2, initializer=funcs.init_fail)
    fs = [executor.submit(funcs.get_init_status) for _ in range(5)]
    for f in fs:
        with pytest.raises(BrokenProcessPool, match="error in initializer"):
            f.result(DEADLINE)
    with pytest.raises(BrokenProcessPool, match="error in initializer"):
        executor.submit(funcs.get_init_status)
    executor.shutdown(wait=True)  # the leak check sees every worker reaped
