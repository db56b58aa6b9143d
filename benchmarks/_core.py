"""What a benchmark is, and how a run of several subjects is measured and reported.

A suite is a function ``cases(quick) -> list[Case]``. Every case of a suite is
sampled in the same round, round after round (interleaved), so that a noisy
machine slows every subject alike and the ratios hold.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Literal

#: ``s`` (seconds per operation, lower is better) or a rate (higher is better).
Unit = Literal["s", "msg/s", "tasks/s", "calls/s", "conn/s", "writes/s"]
OURS = "letitcrash"


@dataclass(frozen=True)
class Case:
    """One subject in one scenario; ``sample()`` measures once and returns a value in ``unit``."""

    scenario: str
    subject: str
    unit: Unit
    sample: Callable[[], float]


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


def measure(suite: str, cases: Sequence[Case], rounds: int) -> list[Record]:
    """Sample every case once per round, interleaved, and summarise each."""
    samples: dict[tuple[str, str], list[float]] = {(c.scenario, c.subject): [] for c in cases}
    for _ in range(rounds):
        for case in cases:
            samples[case.scenario, case.subject].append(case.sample())
    return [
        Record(
            suite=suite,
            scenario=case.scenario,
            subject=case.subject,
            unit=case.unit,
            median=statistics.median(values),
            min=min(values),
            max=max(values),
            n=len(values),
        )
        for case in cases
        for values in [samples[case.scenario, case.subject]]
    ]


def ratio(ours: Record, peer: Record) -> float:
    """How many times more time ours takes (time units) or fewer ops it does (rates).

    Always "ours / peer" in cost terms: below 1.0 means letitcrash is faster.
    """
    if ours.unit == "s":
        return ours.median / peer.median
    return peer.median / ours.median


def table(records: Sequence[Record]) -> str:
    """A plain-text table: each peer's median and the cost ratio of ours against it."""
    lines = [
        f"{'suite':<8} {'scenario':<26} {'subject':<30} {'median':>12} {'unit':<8} "
        f"{'min':>12} {'max':>12} {'n':>3}  ours/peer"
    ]
    ours_by = {(r.suite, r.scenario): r for r in records if r.subject == OURS}
    for r in records:
        mine = ours_by.get((r.suite, r.scenario))
        cost = "" if mine is None or r is mine else f"{ratio(mine, r):.2f}x"
        lines.append(
            f"{r.suite:<8} {r.scenario:<26} {r.subject:<30} {_fmt(r.median, r.unit):>12} "
            f"{r.unit:<8} {_fmt(r.min, r.unit):>12} {_fmt(r.max, r.unit):>12} {r.n:>3}  {cost}"
        )
    return "\n".join(lines)


def _fmt(value: float, unit: str) -> str:
    if unit != "s":
        return f"{value:,.0f}"
    for scale, suffix in ((1.0, "s"), (1e-3, "ms"), (1e-6, "us")):
        if value >= scale:
            return f"{value / scale:.3g} {suffix}"
    return f"{value / 1e-9:.3g} ns"
