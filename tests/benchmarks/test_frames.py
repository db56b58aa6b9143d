"""The frame counter and the frame rows of a report (``benchmarks._frames``, ``_core``)."""

from __future__ import annotations

import sys
from collections.abc import Generator

import pytest

from benchmarks._core import Case, Record, Sample, measure, ratio, table
from benchmarks._frames import FrameCounter


def _f() -> int:
    return 1


def _gen() -> Generator[int, None, None]:
    yield 1
    yield 2


def test_counts_python_calls_and_resumptions_not_c_calls() -> None:
    with FrameCounter() as counter:
        for _ in range(10):
            _f()
        len("c calls are not frames")
        sorted([3, 1, 2])
        steps = list(_gen())  # entered once, resumed twice: three frames
    assert steps == [1, 2]
    assert counter.calls == 10 + 3 + 2  # and __exit__, stop
    assert sys.getprofile() is None


def test_stop_ends_the_count_and_start_resets_it() -> None:
    counter = FrameCounter()
    counter.start()
    _f()
    first = counter.stop()
    _f()
    assert counter.calls == first == 2  # _f and stop
    counter.start()
    assert counter.stop() == 1


def test_frames_of_a_sample_are_rows_of_their_own_and_a_cost() -> None:
    values = iter([(1.0, 100.0), (3.0, 120.0), (2.0, 110.0)])

    def ours() -> Sample:
        seconds, frames = next(values)
        return Sample(seconds, {"root": frames, "worker": frames / 2})

    peer = iter([Sample(1.0, {"root": 50.0, "worker": 0.0})] * 3)
    records = measure(
        "ipc",
        [Case("rt", "letitcrash", "s", ours), Case("rt", "floor", "s", lambda: next(peer))],
        rounds=3,
    )
    by = {(r.scenario, r.subject): r for r in records}
    assert [(r.scenario, r.subject) for r in records][:2] == [
        ("rt", "letitcrash"),
        ("rt", "floor"),
    ]
    assert by["rt", "letitcrash"].median == 2.0
    root = by["rt frames root", "letitcrash"]
    assert (root.unit, root.median, root.min, root.max, root.n) == ("frames", 110.0, 100, 120, 3)
    assert by["rt frames worker", "letitcrash"].median == 55.0
    assert ratio(root, by["rt frames root", "floor"]) == pytest.approx(2.2)  # ours costs more
    lines = table(records).splitlines()
    (floor_root,) = [line for line in lines if "frames root" in line and "floor" in line]
    assert floor_root.endswith("2.20x")
    (floor_worker,) = [line for line in lines if "frames worker" in line and "floor" in line]
    assert not floor_worker.endswith("x")  # no ratio against zero frames


def test_a_rate_is_not_a_cost() -> None:
    ours = Record("ipc", "casts", "letitcrash", "msg/s", 100.0, 100.0, 100.0, 1)
    peer = Record("ipc", "casts", "peer", "msg/s", 200.0, 200.0, 200.0, 1)
    assert ratio(ours, peer) == 2.0
