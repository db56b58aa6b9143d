"""Group commit (docs/persistence.md, "Group commit"), with a commit the test controls."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
import trio
import trio.testing

from supervisor import StaleGeneration, StoreFull
from supervisor._store import Outcome, Put, Write
from supervisor._store_queue import CommitQueue


class HeldCommit:
    """A commit that waits until the test lets it end, and remembers each transaction."""

    def __init__(self) -> None:
        self.transactions: list[list[str]] = []
        self.fail: BaseException | None = None
        self._may_end = trio.Event()
        self._changed = trio.Event()

    async def __call__(self, writes: Sequence[Write]) -> list[Outcome]:
        may_end = self._may_end = trio.Event()
        self.transactions.append([write.key for write in writes])
        self._changed.set()
        self._changed = trio.Event()
        await may_end.wait()
        if self.fail is not None:
            raise self.fail
        return [None] * len(writes)

    async def started(self, count: int) -> None:
        """Wait until transaction number ``count`` (from 1) has started."""
        while len(self.transactions) < count:
            await self._changed.wait()

    def end(self) -> None:
        """Let the running transaction end."""
        self._may_end.set()


def put(key: str) -> Put:
    return Put(key, 1, 1, b"")


async def test_writes_queued_during_a_commit_go_into_the_next_transaction() -> None:
    commit = HeldCommit()
    queue = CommitQueue(commit, "test store")
    returned: list[str] = []

    async def write(key: str) -> None:
        await queue.submit(put(key))
        returned.append(key)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(write, "first")
        await commit.started(1)
        for n in range(50):
            nursery.start_soon(write, f"k{n}")
        await trio.testing.wait_all_tasks_blocked()
        assert returned == []  # nobody returns before its transaction ended
        commit.end()
        await commit.started(2)
        assert returned == ["first"]  # the first transaction ended; the second runs
        commit.end()
    first, second = commit.transactions
    assert first == ["first"]
    assert sorted(second) == sorted(f"k{n}" for n in range(50))
    assert sorted(returned[1:]) == sorted(f"k{n}" for n in range(50))
    assert queue.statistics().transactions == 2
    assert queue.statistics().writes == 51


async def test_a_failed_transaction_fails_every_writer_in_it_and_only_them() -> None:
    commit = HeldCommit()
    queue = CommitQueue(commit, "test store")
    errors: dict[str, BaseException | None] = {}

    async def write(key: str) -> None:
        try:
            await queue.submit(put(key))
        except StoreFull as exc:
            errors[key] = exc
        else:
            errors[key] = None

    async with trio.open_nursery() as nursery:
        nursery.start_soon(write, "alone")
        await commit.started(1)
        for key in ("a", "b", "c"):
            nursery.start_soon(write, key)
        await trio.testing.wait_all_tasks_blocked()
        commit.end()  # "alone" commits
        await commit.started(2)
        commit.fail = StoreFull("test.db", "no room")
        commit.end()  # a, b, c fail together
    assert errors["alone"] is None
    failures = [errors[key] for key in "abc"]
    assert all(isinstance(error, StoreFull) for error in failures)
    assert len({id(error) for error in failures}) == 3  # each writer raises its own instance
    assert all("test.db is full: no room" in str(error) for error in failures)
    assert queue.statistics().failed_transactions == 1


async def test_a_writer_cancelled_while_queued_writes_nothing() -> None:
    commit = HeldCommit()
    queue = CommitQueue(commit, "test store")
    cancelled: list[str] = []

    async def write(key: str, scope: trio.CancelScope) -> None:
        with scope:
            await queue.submit(put(key))
        if scope.cancelled_caught:
            cancelled.append(key)

    scopes = {key: trio.CancelScope() for key in ("first", "queued", "kept")}
    async with trio.open_nursery() as nursery:
        nursery.start_soon(write, "first", scopes["first"])
        await commit.started(1)
        nursery.start_soon(write, "queued", scopes["queued"])
        nursery.start_soon(write, "kept", scopes["kept"])
        await trio.testing.wait_all_tasks_blocked()
        scopes["queued"].cancel()  # it leads the next transaction: the lead passes on
        await trio.testing.wait_all_tasks_blocked()
        commit.end()
        await commit.started(2)
        commit.end()
    assert cancelled == ["queued"]
    assert commit.transactions == [["first"], ["kept"]]


async def test_writers_cancelled_in_their_transaction_return_then_see_the_cancel() -> None:
    commit = HeldCommit()
    queue = CommitQueue(commit, "test store")
    seen: list[str] = []

    async def write(key: str, scope: trio.CancelScope) -> None:
        with scope:
            await queue.submit(put(key))
            seen.append(f"{key} returned")
            await trio.lowlevel.checkpoint()
            seen.append("not reached")
        seen.append(f"{key} cancelled")

    scopes = {key: trio.CancelScope() for key in ("one", "two")}
    async with trio.open_nursery() as nursery:
        nursery.start_soon(queue.submit, put("first"))
        await commit.started(1)
        for key, scope in scopes.items():
            nursery.start_soon(write, key, scope)
        await trio.testing.wait_all_tasks_blocked()
        commit.end()
        await commit.started(2)  # one leads it, two waits for it
        for scope in scopes.values():
            scope.cancel()
        await trio.testing.wait_all_tasks_blocked()
        assert seen == []  # neither returns before its transaction ended
        commit.end()
    assert sorted(seen) == ["one cancelled", "one returned", "two cancelled", "two returned"]
    assert commit.transactions[1] in (["one", "two"], ["two", "one"])


async def test_a_stale_write_is_refused_alone() -> None:
    async def commit(writes: Sequence[Write]) -> list[Outcome]:
        await trio.lowlevel.checkpoint()
        return [StaleGeneration(w.key, 5, 1) if w.key == "old" else None for w in writes]

    queue = CommitQueue(commit, "test store")
    outcomes: dict[str, str] = {}

    async def write(key: str) -> None:
        try:
            await queue.submit(put(key))
            outcomes[key] = "ok"
        except StaleGeneration as exc:
            outcomes[key] = str(exc)

    async with trio.open_nursery() as nursery:
        for key in ("a", "old", "b"):
            nursery.start_soon(write, key)
    assert outcomes == {
        "a": "ok",
        "b": "ok",
        "old": "key 'old': generation 1 is older than the stored generation 5",
    }


async def test_a_closed_queue_refuses_writes_after_the_queued_ones_ended() -> None:
    commit = HeldCommit()
    queue = CommitQueue(commit, "test store")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(queue.submit, put("queued"))
        await commit.started(1)
        nursery.start_soon(queue.wait_idle)
        await trio.testing.wait_all_tasks_blocked()
        with pytest.raises(trio.ClosedResourceError, match="test store is closed"):
            await queue.submit(put("late"))
        commit.end()
    assert commit.transactions == [["queued"]]
