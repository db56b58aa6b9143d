"""Group commit: the writes that queue while a transaction commits go into the next one.

There is no timer and no background task. The first writer to find the queue
idle leads: it takes every queued write, commits them in one transaction and,
when that has ended, hands the lead to the first writer still queued, which
takes everything queued by then. Each writer returns once *its* transaction has
ended, with its own outcome, or with the transaction's error (every writer of a
failed transaction gets it: the transaction was rolled back whole).

Cancellation: a writer cancelled while queued withdraws its write (nothing was
written) and passes the lead on if it had it. Once its write is in a
transaction it waits for that transaction, shielded: the outcome must be known,
and the transaction is bounded by the store (SQLite's busy timeout and I/O).
``trio.Cancelled`` is then raised at the writer's next checkpoint.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import trio

from ._store import Delete, Outcome, StoreStatistics, Write, check_key, check_put
from ._store_errors import PersistenceError, StaleGeneration

#: Commits writes in one transaction and returns one outcome per write, or raises.
Commit = Callable[[Sequence[Write]], Awaitable[list[Outcome]]]


class _Ticket:
    __slots__ = ("done", "error", "lead", "outcome", "signal", "taken", "write")

    def __init__(self, write: Write) -> None:
        self.write = write
        # Made when it queues behind a leader; set when it leads or its transaction ended.
        self.signal: trio.Event | None = None
        self.lead = False
        self.taken = False
        self.done = False
        self.outcome: Outcome = None
        self.error: BaseException | None = None

    def finish(self, outcome: Outcome, error: BaseException | None) -> None:
        self.outcome, self.error, self.done = outcome, error, True
        if self.signal is not None:
            self.signal.set()

    def result(self) -> bool | None:
        if self.error is not None:
            raise _copy(self.error) from self.error.__cause__
        if isinstance(self.outcome, StaleGeneration):
            raise self.outcome
        return self.outcome


class CommitQueue:
    """The writes of one store, committed in groups by ``commit`` (see the module docstring)."""

    def __init__(self, commit: Commit, what: str, *, shields_itself: bool = False) -> None:
        self._commit = commit
        self._what = what
        # A commit that is not cancellable by itself (it returns its outcome, and
        # trio.Cancelled comes at the caller's next checkpoint) needs no shield here.
        self._shield = not shields_itself
        self._pending: list[_Ticket] = []
        self._leading = False
        self._idle: trio.Event | None = None  # made by wait_idle while a write is queued
        self._closed = False
        self._transactions = 0
        self._writes = 0
        self._failed = 0

    def statistics(self) -> StoreStatistics:
        return StoreStatistics(self._transactions, self._writes, self._failed)

    def check_open(self) -> None:
        if self._closed:
            raise trio.ClosedResourceError(f"{self._what} is closed")

    async def submit(self, write: Write) -> bool | None:
        """Queue ``write``; return its outcome once its transaction has ended."""
        await trio.lowlevel.checkpoint_if_cancelled()
        self.check_open()
        ticket = _Ticket(write)
        self._pending.append(ticket)
        if not self._leading:
            self._leading = True
            ticket.lead = True
        else:
            await self._wait(ticket)
        if ticket.lead and not ticket.done:
            await self._lead()
        return ticket.result()

    async def wait_idle(self) -> None:
        """Refuse new writes, then wait until every queued one has ended."""
        self._closed = True
        if not self._leading:
            await trio.lowlevel.checkpoint()
            return
        if self._idle is None:
            self._idle = trio.Event()
        await self._idle.wait()

    async def _wait(self, ticket: _Ticket) -> None:
        ticket.signal = signal = trio.Event()
        try:
            await signal.wait()
        except trio.Cancelled:
            if not ticket.taken:
                self._pending.remove(ticket)
                if ticket.lead:
                    self._hand_over()
                raise
            with trio.CancelScope(shield=True):  # bounded by its transaction: see module doc
                await signal.wait()

    async def _lead(self) -> None:
        try:
            if self._shield:
                with trio.CancelScope(shield=True):  # a thread call: bounded, not cancellable
                    await self._commit_pending()
            else:
                await self._commit_pending()
        finally:
            self._hand_over()

    async def _commit_pending(self) -> None:
        batch, self._pending = self._pending, []
        for ticket in batch:
            ticket.taken = True
        try:
            outcomes = await self._commit([ticket.write for ticket in batch])
        except PersistenceError as exc:
            self._end(batch, [None] * len(batch), exc)
        except Exception as exc:
            error = PersistenceError(f"{self._what}: the transaction failed: {exc!r}")
            error.__cause__ = exc
            self._end(batch, [None] * len(batch), error)
        except BaseException as exc:
            self._end(batch, [None] * len(batch), exc)
            raise
        else:
            self._end(batch, outcomes, None)

    def _end(
        self, batch: list[_Ticket], outcomes: list[Outcome], error: BaseException | None
    ) -> None:
        if error is None:
            self._transactions += 1
            self._writes += len(batch)
        else:
            self._failed += 1
        for ticket, outcome in zip(batch, outcomes, strict=True):
            ticket.finish(outcome, error)

    def _hand_over(self) -> None:
        if self._pending:
            successor = self._pending[0]
            successor.lead = True
            assert successor.signal is not None  # it queued behind a leader
            successor.signal.set()
        else:
            self._leading = False
            if self._idle is not None:
                self._idle.set()
                self._idle = None


def _copy(error: BaseException) -> BaseException:
    """A fresh instance of ``error`` for each writer: one instance raised in many tasks
    would collect all their tracebacks."""
    fresh = type(error).__new__(type(error))
    fresh.args = error.args
    fresh.__dict__.update(error.__dict__)
    return fresh


class GroupCommitted:
    """The writes of a store class, group-committed through its ``commit`` method."""

    def __init__(self, commit: Commit, what: str, *, shields_itself: bool = False) -> None:
        self._queue = CommitQueue(commit, what, shields_itself=shields_itself)

    def statistics(self) -> StoreStatistics:
        """What has been committed so far."""
        return self._queue.statistics()

    async def put(self, key: str, generation: int, version: int, data: bytes) -> None:
        """Store ``data`` for ``key``; returns once the transaction holding it committed."""
        await self._queue.submit(check_put(key, generation, version, data))

    async def delete(self, key: str) -> bool:
        """Remove ``key``; ``True`` if it was stored. Returns once committed."""
        return bool(await self._queue.submit(Delete(check_key(key))))
