"""docs/semantics.md §1, §2 and §18: flags and child specs, checked by one pure pass."""

from __future__ import annotations

import math

import pytest

from actors import Actor, Runtime
from supervisor import (
    BRUTAL_KILL,
    INFINITY,
    AutoShutdown,
    Backoff,
    ChildKind,
    ChildSpec,
    InvalidSpec,
    Restart,
    Strategy,
    Supervisor,
    check_child,
    check_supervisor,
    open_tree,
)

from .workers import Worker


def test_item1_default_flags() -> None:
    spec = check_supervisor(Supervisor())
    assert spec.strategy is Strategy.ONE_FOR_ONE
    assert spec.intensity == 1
    assert spec.period == 5.0
    assert spec.auto_shutdown is AutoShutdown.NEVER
    assert spec.children == ()


@pytest.mark.parametrize("intensity", [-1, 1.5, True, "1", None])
def test_item1_intensity_must_be_an_int_of_at_least_zero(intensity: object) -> None:
    with pytest.raises(InvalidSpec) as caught:
        check_supervisor(Supervisor(intensity=intensity))  # type: ignore[arg-type]
    assert caught.value.field == "intensity"
    assert caught.value.child_id is None
    assert "intensity" in str(caught.value)


def test_item1_intensity_zero_is_valid() -> None:
    assert check_supervisor(Supervisor(intensity=0)).intensity == 0


@pytest.mark.parametrize("period", [0, -1, math.inf, math.nan, "5", False])
def test_item1_period_must_be_positive(period: object) -> None:
    with pytest.raises(InvalidSpec) as caught:
        check_supervisor(Supervisor(period=period))  # type: ignore[arg-type]
    assert caught.value.field == "period"


def test_item1_a_fractional_period_is_allowed() -> None:
    assert check_supervisor(Supervisor(period=0.5)).period == 0.5


async def test_item1_a_bad_spec_is_rejected_before_anything_starts(
    runtime: Runtime, log: list[tuple[str, str]]
) -> None:
    spec = Supervisor(intensity=-1, children=[ChildSpec("a", Worker, args=("a", log))])
    with pytest.raises(InvalidSpec):
        async with open_tree(spec, runtime=runtime):
            pass  # pragma: no cover
    assert log == []
    assert runtime.statistics().spawned == 0


def test_item2_child_defaults() -> None:
    worker = check_child(ChildSpec("w", Worker))
    assert worker.restart is Restart.PERMANENT
    assert worker.significant is False
    assert worker.shutdown == 5.0
    assert worker.kind is ChildKind.WORKER
    sub = check_child(ChildSpec("s", Supervisor()))
    assert sub.shutdown is INFINITY
    assert sub.kind is ChildKind.SUPERVISOR


def test_item2_explicit_shutdown_is_kept() -> None:
    assert check_child(ChildSpec("w", Worker, shutdown=BRUTAL_KILL)).shutdown is BRUTAL_KILL
    assert check_child(ChildSpec("w", Worker, shutdown=2)).shutdown == 2.0
    assert check_child(ChildSpec("s", Supervisor(), shutdown=1.5)).shutdown == 1.5


def test_item2_duplicate_ids_are_rejected() -> None:
    spec = Supervisor(
        children=[ChildSpec("a", Worker), ChildSpec("b", Worker), ChildSpec("a", Actor)]
    )
    with pytest.raises(InvalidSpec) as caught:
        check_supervisor(spec)
    assert (caught.value.child_id, caught.value.field) == ("a", "id")
    assert "duplicate" in str(caught.value)


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        (ChildSpec("", Worker), "id"),
        (ChildSpec("a/b", Worker), "id"),
        (ChildSpec("w", object), "start"),  # type: ignore[arg-type]
        (ChildSpec("w", Worker, args="x"), "args"),  # type: ignore[arg-type]
        (ChildSpec("w", Worker, restart="permanent"), "restart"),  # type: ignore[arg-type]
        (ChildSpec("w", Worker, shutdown=0), "shutdown"),
        (ChildSpec("w", Worker, shutdown=-1.0), "shutdown"),
        (ChildSpec("w", Worker, shutdown="infinity"), "shutdown"),  # type: ignore[arg-type]
        (ChildSpec("w", Worker, significant=1), "significant"),  # type: ignore[arg-type]
        (ChildSpec("w", Worker, backoff=Backoff(minimum=0, maximum=1)), "backoff"),
        (ChildSpec("w", Worker, backoff=Backoff(minimum=2, maximum=1)), "backoff"),
        (ChildSpec("w", Worker, mailbox_size=0), "mailbox_size"),
    ],
)
def test_item2_the_error_names_the_child_and_the_field(spec: ChildSpec, field: str) -> None:
    with pytest.raises(InvalidSpec) as caught:
        check_supervisor(Supervisor(children=[ChildSpec("ok", Worker), spec]))
    assert caught.value.field == field
    assert caught.value.child_id == (spec.id if isinstance(spec.id, str) else repr(spec.id))
    assert field in str(caught.value)


def test_item2_a_nested_error_names_the_path() -> None:
    inner = Supervisor(children=[ChildSpec("worker", Worker, shutdown=-1)])
    with pytest.raises(InvalidSpec) as caught:
        check_supervisor(Supervisor(children=[ChildSpec("sub", inner)]))
    assert caught.value.child_id == "sub/worker"
    assert caught.value.field == "shutdown"


def test_item2_the_check_is_pure_and_keeps_the_input() -> None:
    spec = Supervisor(children=[ChildSpec("w", Worker)])
    checked = check_supervisor(spec)
    assert spec.children[0].shutdown is None
    assert checked.children[0].shutdown == 5.0
    assert check_supervisor(checked) == checked


def test_item10_a_dynamic_supervisor_has_exactly_one_template() -> None:
    for children in ([], [ChildSpec("a", Worker), ChildSpec("b", Worker)]):
        with pytest.raises(InvalidSpec) as caught:
            check_supervisor(Supervisor(strategy=Strategy.SIMPLE_ONE_FOR_ONE, children=children))
        assert caught.value.field == "children"


def test_item10_a_dynamic_template_takes_no_backoff() -> None:
    template = ChildSpec("w", Worker, backoff=Backoff(minimum=1.0, maximum=2.0))
    with pytest.raises(InvalidSpec) as caught:
        check_supervisor(Supervisor(strategy=Strategy.SIMPLE_ONE_FOR_ONE, children=[template]))
    assert (caught.value.child_id, caught.value.field) == ("w", "backoff")


def test_item18_a_significant_child_cannot_be_permanent() -> None:
    with pytest.raises(InvalidSpec) as caught:
        check_child(ChildSpec("w", Worker, significant=True))
    assert (caught.value.child_id, caught.value.field) == ("w", "significant")
    for restart in (Restart.TRANSIENT, Restart.TEMPORARY):
        assert check_child(ChildSpec("w", Worker, restart=restart, significant=True)).significant
