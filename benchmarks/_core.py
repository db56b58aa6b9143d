"""What a benchmark is, and how a run of several subjects is measured and reported.

A suite is a function ``cases(quick) -> list[Case]``. Every case of a suite is
sampled in the same round, round after round (interleaved), so that a noisy
machine slows every subject alike and the ratios hold. A sample may also
report side figures (:class:`Sample`), such as the Python frames each side
entered per operation: each becomes a row of its own, a cost like a time.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Literal

#: ``s`` (seconds per operation) and ``frames`` (Python frames entered per
#: operation) are costs, lower is better; the others are rates, higher is better.
Unit = Literal["s", "frames", "msg/s", "tasks/s", "calls/s", "conn/s", "writes/s"]
COSTS: frozenset[str] = frozenset({"s", "frames"})
OURS = "letitcrash"


@dataclass(frozen=True)
class Sample:
    """What a case's ``sample()`` may return instead of a bare value.

    ``frames`` maps a side (``"root"``, ``"worker"``) to the frames it entered per
    operation; each side is reported as the scenario ``"<scenario> frames <side>"``.
    """

    value: float
    frames: dict[str, float]


@dataclass(frozen=True)
class Case:
    """One subject in one scenario; ``sample()`` measures once and returns a value in ``unit``."""

    scenario: str
    subject: str
    unit: Unit
    sample: Callable[[], float | Sample]


@dataclass(frozen=True)
class Record:
    suite: str
    scenario: str
    subject: str
    unit: str
    median: float
    min: float
    max: float
    n: int

    def as_json(self) -> dict[str, object]:
        return asdict(self)


def frames_scenario(scenario: str, side: str) -> str:
    """The scenario under which ``side``'s frame counts of ``scenario`` are reported."""
    return f"{scenario} frames {side}"


def measure(suite: str, cases: Sequence[Case], rounds: int) -> list[Record]:
    """Sample every case once per round, interleaved, and summarise each.

    Frame counts come after every value, one row per scenario, side and subject.
    """
    rows: dict[tuple[str, str], tuple[str, list[float]]] = {
        (c.scenario, c.subject): (c.unit, []) for c in cases
    }
    side_rows: dict[tuple[str, str], tuple[str, list[float]]] = {}
    for _ in range(rounds):
        for case in cases:
            result = case.sample()
            if isinstance(result, Sample):
                for side, frames in result.frames.items():
                    key = (frames_scenario(case.scenario, side), case.subject)
                    side_rows.setdefault(key, ("frames", []))[1].append(frames)
                result = result.value
            rows[case.scenario, case.subject][1].append(result)
    return [
        Record(
            suite=suite,
            scenario=scenario,
            subject=subject,
            unit=unit,
            median=statistics.median(values),
            min=min(values),
            max=max(values),
            n=len(values),
        )
        for (scenario, subject), (unit, values) in [*rows.items(), *side_rows.items()]
    ]


def ratio(ours: Record, peer: Record) -> float:
    """How many times more time ours takes (time units) or fewer ops it does (rates).

    Always "ours / peer" in cost terms: below 1.0 means letitcrash is faster.
    """
    if ours.unit in COSTS:
        return ours.median / peer.median
    return peer.median / ours.median


def table(records: Sequence[Record]) -> str:
    """A plain-text table: each peer's median and the cost ratio of ours against it."""
    lines = [
        f"{'suite':<8} {'scenario':<38} {'subject':<30} {'median':>12} {'unit':<8} "
        f"{'min':>12} {'max':>12} {'n':>3}  ours/peer"
    ]
    ours_by = {(r.suite, r.scenario): r for r in records if r.subject == OURS}
    for r in records:
        mine = ours_by.get((r.suite, r.scenario))
        # no ratio against a peer that shows zero (an echo loop that enters no frame)
        shown = _fmt(r.median, r.unit)
        cost = "" if mine is None or r is mine or shown == "0.0" else f"{ratio(mine, r):.2f}x"
        lines.append(
            f"{r.suite:<8} {r.scenario:<38} {r.subject:<30} {shown:>12} "
            f"{r.unit:<8} {_fmt(r.min, r.unit):>12} {_fmt(r.max, r.unit):>12} {r.n:>3}  {cost}"
        )
    return "\n".join(lines)


def _fmt(value: float, unit: str) -> str:
    if unit == "frames":
        return f"{value:,.1f}"
    if unit != "s":
        return f"{value:,.0f}"
    for scale, suffix in ((1.0, "s"), (1e-3, "ms"), (1e-6, "us")):
        if value >= scale:
            return f"{value / scale:.3g} {suffix}"
    return f"{value / 1e-9:.3g} ns"
