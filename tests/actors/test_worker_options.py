"""Worker options of process actors, and Runtime.pid (docs/semantics.md §26).

Real time with generous deadlines for the tests that start workers; the leak
check makes sure no worker, zombie or fd outlives a test.
"""

from __future__ import annotations

import os
import resource
from pathlib import Path
from typing import Any

import pytest
import trio

from actors import InitError, SharedWorker, WorkerOptions, open_runtime
from spawn import WorkerStartError
from tests.leaks import LeakCheck, children

from .options_actor import MODE_VARIABLE, SLOW_VARIABLE, Recording
from .probe import Probe

NOFILE = resource.RLIMIT_NOFILE
FSIZE = resource.RLIMIT_FSIZE
LONG = 60.0


# -- the record: checked, frozen, comparable ------------------------------------------


def test_options_are_checked_and_name_what_is_wrong() -> None:
    with pytest.raises(ValueError, match=r"12345 is not a resource\.RLIMIT_"):
        WorkerOptions(rlimits={12345: (1, 1)})
    with pytest.raises(ValueError, match=r"rlimits\[7\] must be \(soft, hard\)"):
        WorkerOptions(rlimits={NOFILE: (1,)})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="soft limit 9 is above the hard limit 8"):
        WorkerOptions(rlimits={NOFILE: (9, 8)})
    with pytest.raises(ValueError, match="soft limit -1 is above the hard limit 8"):
        WorkerOptions(rlimits={NOFILE: (resource.RLIM_INFINITY, 8)})
    with pytest.raises(TypeError, match="rlimits must be a mapping"):
        WorkerOptions(rlimits=[(NOFILE, (1, 1))])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'A=B' is not a variable name"):
        WorkerOptions(env={"A=B": "x"})
    with pytest.raises(ValueError, match=r"env\['A'\] must be a str"):
        WorkerOptions(env={"A": 1})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="start_timeout must be a number > 0"):
        WorkerOptions(start_timeout=float("nan"))
    with pytest.raises(ValueError, match="start_timeout must be a number > 0"):
        WorkerOptions(start_timeout=True)
    with pytest.raises(TypeError, match="options are WorkerOptions"):
        SharedWorker("w", options={"env": {}})  # type: ignore[arg-type]


def test_options_are_frozen_copies_equal_by_value() -> None:
    env = {"B": "2", "A": "1"}
    options = WorkerOptions(env=env, rlimits={NOFILE: [10, 20]})  # type: ignore[dict-item]
    env["C"] = "3"
    assert dict(options.env) == {"A": "1", "B": "2"}
    assert options.rlimits[NOFILE] == (10, 20)
    with pytest.raises(TypeError):
        options.env["D"] = "4"  # type: ignore[index]
    same = WorkerOptions(env={"A": "1", "B": "2"}, rlimits={NOFILE: (10, 20)})
    assert options == same
    assert hash(options) == hash(same)
    assert options != WorkerOptions(env={"A": "1"}, rlimits={NOFILE: (10, 20)})


def test_options_on_top_of_defaults_add_entries_and_replace_the_timeout() -> None:
    defaults = WorkerOptions(env={"A": "1", "B": "1"}, rlimits={FSIZE: (5, 5)}, start_timeout=30)
    own = WorkerOptions(env={"B": "2"}, rlimits={NOFILE: (10, 20)})
    assert own.over(defaults) == WorkerOptions(
        env={"A": "1", "B": "2"}, rlimits={FSIZE: (5, 5), NOFILE: (10, 20)}, start_timeout=30
    )
    assert WorkerOptions(start_timeout=1).over(defaults).start_timeout == 1


async def test_options_need_a_process_placement() -> None:
    async with open_runtime() as runtime:
        with pytest.raises(ValueError, match='need placement="process"'):
            await runtime.spawn(Recording, worker_options=WorkerOptions())
        with pytest.raises(ValueError, match="go on SharedWorker"):
            await runtime.spawn(
                Recording, placement=SharedWorker("w"), worker_options=WorkerOptions()
            )
        with pytest.raises(TypeError, match="worker_options are WorkerOptions"):
            await runtime.spawn(Recording, placement="process", worker_options={})  # type: ignore[arg-type]
        assert runtime.statistics().actors == 0


# -- options applied in the worker, before the actor's module is imported -------------


async def test_options_apply_before_the_module_is_imported(leaks: LeakCheck) -> None:
    parent_nofile = resource.getrlimit(NOFILE)
    defaults = WorkerOptions(env={MODE_VARIABLE: "runtime"}, rlimits={FSIZE: (2**40, 2**40)})
    own = WorkerOptions(env={MODE_VARIABLE: "own"}, rlimits={NOFILE: (101, 202)})
    assert parent_nofile != (101, 202)
    assert resource.getrlimit(FSIZE) != (2**40, 2**40)
    async with open_runtime(worker_options=defaults) as runtime:
        placed = await runtime.spawn(Recording, placement="process", worker_options=own)
        plain = await runtime.spawn(Recording, placement="process")
        for ref in (placed, plain):
            pid = runtime.pid(ref)
            assert pid is not None
            leaks.watch(pid)
        placed_seen: dict[str, Any] = await placed.call("at_import", timeout=LONG)
        plain_seen: dict[str, Any] = await plain.call("at_import", timeout=LONG)
        assert placed_seen["pid"] == runtime.pid(placed) != os.getpid()
        assert placed_seen["nofile"] == (101, 202)  # its own
        assert placed_seen["fsize"] == (2**40, 2**40)  # the runtime's, kept
        assert placed_seen["mode"] == "own"  # its own wins
        assert plain_seen["pid"] == runtime.pid(plain)
        assert plain_seen["nofile"] == parent_nofile  # never a worker of the other options
        assert plain_seen["fsize"] == (2**40, 2**40)
        assert plain_seen["mode"] == "runtime"
        for ref in (placed, plain):
            await runtime.stop(ref)


async def test_a_shared_worker_has_one_set_of_options(leaks: LeakCheck) -> None:
    options = WorkerOptions(env={MODE_VARIABLE: "shared"}, rlimits={NOFILE: (103, 204)})
    async with open_runtime() as runtime:
        first = await runtime.spawn(Recording, placement=SharedWorker("s", options))
        pid = runtime.pid(first)
        assert pid is not None
        leaks.watch(pid)
        same = await runtime.spawn(Recording, placement=SharedWorker("s", options))
        assert runtime.pid(same) == pid
        seen: dict[str, Any] = await same.call("at_import", timeout=LONG)
        assert (seen["pid"], seen["nofile"], seen["mode"]) == (pid, (103, 204), "shared")
        with pytest.raises(ValueError, match="shared worker 's' runs with WorkerOptions"):
            await runtime.spawn(Recording, placement=SharedWorker("s"))
        assert runtime.is_alive(first)
        assert runtime.is_alive(same)
        for ref in (first, same):
            await runtime.stop(ref)


# -- a worker that does not start in time ---------------------------------------------


async def test_a_worker_that_does_not_start_in_time_is_an_init_error(
    leaks: LeakCheck, tmp_path: Path
) -> None:
    marker = tmp_path / "imported"
    marker.touch()  # the module was imported once already: every import of it hangs
    slow = WorkerOptions(env={SLOW_VARIABLE: str(marker)}, start_timeout=0.5)
    async with open_runtime() as runtime:
        with trio.fail_after(LONG):
            with pytest.raises(InitError, match=r"did not answer within 0\.5 s") as caught:
                await runtime.spawn(Recording, placement="process", worker_options=slow)
        assert isinstance(caught.value.__cause__, WorkerStartError)
        assert runtime.statistics().actors == 0
        fine = await runtime.spawn(Recording, placement="process")  # the runtime goes on
        assert await fine.call("pid", timeout=LONG) == runtime.pid(fine)
        await runtime.stop(fine)


# -- Runtime.pid ------------------------------------------------------------------------


async def test_pid_is_the_worker_process_of_a_process_actor(leaks: LeakCheck) -> None:
    async with open_runtime() as runtime:
        task = await runtime.spawn(Probe)
        placed = await runtime.spawn(Recording, placement="process")
        pid = runtime.pid(placed)
        assert pid is not None
        leaks.watch(pid)
        assert runtime.pid(task) is None
        assert pid in children()
        assert await trio.Path(f"/proc/{pid}").exists()
        assert await placed.call("pid", timeout=LONG) == pid
        await runtime.stop(placed)
        assert runtime.pid(placed) is None
        await runtime.stop(task)
