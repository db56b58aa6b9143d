"""Pipelined calls: jobs queued with ``Pool.submit``, several in flight on one worker.

A driver holds one slot of the supply and one worker at a time; it claims and
sends the next jobs while earlier ones run, up to :data:`_MAX_DEPTH` and about
:data:`_WINDOW` seconds of calls at the pace seen so far, and no more than a
fair share of the queue, so that a burst spreads over idle workers first.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from typing import Final

import trio

from ._calls import CodecName, decode_reply, encode_request
from ._channel import Channel
from ._exceptions import InitializerError, PoolClosed, ProtocolError, SpawnError, WorkerStartError
from ._supply import CHANNEL_ERRORS, Supply
from ._worker import Worker

#: About this many seconds of calls (at the observed time per call) are kept in
#: flight on a worker, at least one and at most ``_MAX_DEPTH``.
_WINDOW: Final = 0.005
_MAX_DEPTH: Final = 64
_SMOOTHING: Final = 0.25
_INITIALIZER_ERROR: Final = f"{InitializerError.__module__}.{InitializerError.__qualname__}"


class Job:
    """A call for :meth:`Pool.submit`: ``ref`` (module, qualified name), arguments, callbacks.

    Subclass it and override the callbacks, which the pool calls in its event
    loop: :meth:`claim` just before the call is sent (return ``False`` to
    withdraw it: it is dropped, never run), :meth:`started` when the worker
    reports that it started the call, then exactly one of :meth:`set_result`
    or :meth:`set_exception` (through :meth:`set_reply`, which decodes the
    worker's answer). A job that is never claimed, or that was withdrawn with
    :meth:`Pool.withdraw`, gets none of them afterwards.

    With ``fn`` given and a pool whose codec is pickle, the function travels by
    value (pickled with the arguments: a partial or a bound method can), and
    ``ref`` only names it in messages.
    """

    __slots__ = ("_channel", "_frame", "_seq", "_withdrawn", "args", "fn", "kwargs", "ref")

    def __init__(
        self,
        ref: tuple[str, str],
        args: tuple[object, ...],
        kwargs: dict[str, object],
        *,
        fn: Callable[..., object] | None = None,
    ) -> None:
        self.ref = ref
        self.args = args
        self.kwargs = kwargs
        self.fn = fn
        self._frame: bytes | None = None  # set once claimed and encoded
        self._seq = 0
        self._channel: Channel | None = None  # the worker's, while the call is on it
        self._withdrawn = False

    def claim(self) -> bool:
        """Whether the call is still wanted; called once, just before it is sent."""
        return True

    def started(self) -> None:
        """The worker started the call (it will not be skipped any more)."""

    def set_reply(self, ok: bool, value: object, codec: CodecName) -> None:
        """The worker's answer: by default decoded, then :meth:`set_result` or
        :meth:`set_exception` (also with a decoding error)."""
        try:
            result = decode_reply((ok, value), codec)
        except Exception as exc:
            self.set_exception(exc)
        else:
            self.set_result(result)

    def set_result(self, value: object) -> None:
        """The call returned ``value``."""

    def set_exception(self, exc: BaseException) -> None:
        """The call failed (see :meth:`Pool.submit` for the errors)."""


class Pipeline:
    """The queue of submitted jobs and the drivers that run them on ``supply``'s workers.

    It takes a slot whenever one is free and a job waits (``drive_more``, which
    the supply calls when a slot is released); its drivers stop taking workers
    while a caller waits for a slot (``supply.waiting``).
    """

    def __init__(self, supply: Supply, seq: Iterator[int]) -> None:
        self._supply = supply
        self._coder = supply.coder
        self._codec = supply.options.codec
        self._seq = seq
        self._jobs: deque[Job] = deque()
        self._drivers = 0
        self._per_call = 0.0  # smoothed seconds per pipelined call (optimistic at first)

    def __len__(self) -> int:
        """How many jobs are queued, not yet sent to a worker."""
        return len(self._jobs)

    def submit(self, jobs: tuple[Job, ...]) -> None:
        """Queue ``jobs`` behind those already queued; drive them if a slot is free."""
        self._jobs.extend(jobs)
        self.drive_more()

    def close(self) -> None:
        """Fail every queued job still wanted: the pool closes."""
        self._fail_queued(PoolClosed("the pool closed before the call was sent"))

    def withdraw(self, job: Job) -> None:
        """``job`` is no longer wanted: never sent if queued, skipped by its worker if sent
        and not started; no callback of it runs afterwards."""
        job._withdrawn = True
        channel = job._channel
        if channel is not None and not self._supply.closed:
            skip = self._coder.encode([job._seq])
            self._supply.nursery.start_soon(_send_skip, channel, skip)

    def drive_more(self) -> None:
        """Start a driver (one worker each) per queued job while a slot is free."""
        supply = self._supply
        while self._jobs and self._drivers < len(self._jobs) and not supply.closed:
            try:
                supply.slots.acquire_nowait()
            except trio.WouldBlock:
                return
            self._drivers += 1
            supply.nursery.start_soon(self._drive)

    async def _drive(self) -> None:
        """Run queued jobs on a worker (another if it dies or retires) until none is left."""
        supply = self._supply
        try:
            while self._jobs and not supply.closed and not supply.waiting:
                try:
                    worker = await supply.take()
                except PoolClosed:
                    return
                except WorkerStartError as exc:
                    self._fail_queued(exc, count=1)
                    continue
                supply.busy.add(worker)
                try:
                    await self._serve(worker)
                finally:
                    supply.busy.discard(worker)
        finally:
            self._drivers -= 1
            supply.release_slot()

    async def _serve(self, worker: Worker) -> None:
        """Keep jobs in flight on ``worker`` while there are any; then check it in."""
        supply = self._supply
        inflight: deque[Job] = deque()
        channel = worker.channel
        mark = 0.0
        try:
            while True:
                frames = self._claim(worker, inflight)
                if frames:
                    if len(frames) == len(inflight):
                        mark = trio.current_time()
                    await channel.send_frames(frames)
                if not inflight:
                    break
                answered = self._answer(worker, inflight, await channel.receive_batch())
                if answered:
                    now = trio.current_time()
                    self._per_call += _SMOOTHING * ((now - mark) / answered - self._per_call)
                    mark = now
                if worker.broken:  # the initializer failed: it exits, the rest never ran
                    self._requeue(inflight)
                    supply.discard(worker, supply.options.stop_timeout)
                    return
        except CHANNEL_ERRORS as exc:
            if len(inflight) > 1 and not supply.closed:
                running = inflight.popleft()
                self._requeue(inflight)
                inflight.append(running)
            error = await supply.died(worker, exc)
            if inflight:
                running = inflight.popleft()
                running._channel = None
                if not running._withdrawn:
                    running.set_exception(error)
            return
        except BaseException:
            supply.discard(worker, 0)
            raise
        finally:
            for job in inflight:  # only when cancelled or closing
                job._channel = None
                if not job._withdrawn:
                    job.set_exception(PoolClosed("the pool closed during the call"))
        supply.check_in(worker)

    def _depth(self, worker: Worker, inflight: deque[Job]) -> int:
        """How many more jobs to send ``worker`` now."""
        supply = self._supply
        depth = min(_MAX_DEPTH, int(_WINDOW / max(self._per_call, 1e-9)))
        count = min(depth - len(inflight), -(-len(self._jobs) // self._drivers))
        if not inflight:
            count = max(count, 1)
        if supply.max_tasks is not None:
            count = min(count, supply.max_tasks - worker.tasks - len(inflight))
        if supply.max_rss is not None and worker.rss() > supply.max_rss:
            count = 0
        return count

    def _claim(self, worker: Worker, inflight: deque[Job]) -> list[bytes]:
        """Claim and encode the jobs to send ``worker`` now; their frames, in order."""
        jobs = self._jobs
        if not jobs or self._supply.waiting:
            return []
        count = self._depth(worker, inflight)
        frames: list[bytes] = []
        while count > 0 and jobs:
            job = jobs.popleft()
            if job._withdrawn:
                continue
            if job._frame is None:
                if not job.claim():
                    continue
                job._seq = seq = next(self._seq)
                try:
                    job._frame = frame = encode_request(
                        self._coder,
                        seq,
                        job.ref,
                        job.args,
                        job.kwargs,
                        self._codec,
                        fn=job.fn,
                        notify=True,
                    )
                except Exception as exc:  # EncodeError, or pickle's errors: nothing sent
                    job.set_exception(exc)
                    continue
                if len(frame) > worker.channel.max_frame:
                    job.set_exception(
                        ProtocolError(f"frame of {len(frame):,} bytes is over the frame limit")
                    )
                    continue
            frames.append(job._frame)
            job._channel = worker.channel
            inflight.append(job)
            count -= 1
        return frames

    def _answer(self, worker: Worker, inflight: deque[Job], replies: list[object]) -> int:
        """Finish the jobs ``replies`` answer, oldest first, and report starts; how many
        were answered.

        Stops after an answer that says the worker's initializer failed (the
        worker exits after it), marking the worker broken.
        """
        answered = 0
        for reply in replies:
            if not inflight:
                raise ProtocolError(f"a reply to no request: {reply!r:.200}")
            head = inflight[0]
            if type(reply) is list and len(reply) == 1 and reply[0] == head._seq:
                if not head._withdrawn:
                    head.started()  # a start notice of its own
                continue
            ok, value, next_started = _parse_reply(reply, head._seq)
            job = inflight.popleft()
            job._channel = None
            answered += 1
            if ok is not None:
                worker.tasks += 1
                if not job._withdrawn:
                    job.set_reply(ok, value, self._codec)
                if not ok and _is_initializer_error(value):
                    worker.broken = True
                    return answered
            if next_started:
                if not inflight:
                    raise ProtocolError(f"a start notice for no request: {reply!r:.200}")
                if not inflight[0]._withdrawn:
                    inflight[0].started()
        return answered

    def _requeue(self, jobs: deque[Job]) -> None:
        """Put claimed jobs that never started back at the front of the queue."""
        if self._supply.closed:
            return
        for job in jobs:
            job._channel = None
        self._jobs.extendleft(reversed(jobs))
        jobs.clear()
        self.drive_more()

    def _fail_queued(self, exc: SpawnError, count: int | None = None) -> None:
        """Fail the first ``count`` queued jobs still wanted (all by default) with ``exc``."""
        while self._jobs and count != 0:
            job = self._jobs.popleft()
            if job._frame is not None or job.claim():
                job.set_exception(exc)
                if count is not None:
                    count -= 1


async def _send_skip(channel: Channel, frame: bytes) -> None:
    try:
        await channel.send_frame(frame)
    except (*CHANNEL_ERRORS, trio.BusyResourceError):
        pass  # the worker is gone: its driver sees to the calls it held


def _parse_reply(reply: object, seq: int) -> tuple[bool | None, object, bool]:
    """``(ok, value, next started)`` of a reply to the pipelined request ``seq``;
    ``ok`` is ``None`` for a call the worker skipped."""
    if (
        type(reply) is not list
        or not 3 <= len(reply) <= 4
        or reply[0] != seq
        or reply[1] not in (True, False, None)
    ):
        raise ProtocolError(f"reply does not answer request {seq}: {reply!r:.200}")
    return reply[1], reply[2], len(reply) == 4 and reply[3] is True


def _is_initializer_error(box: object) -> bool:
    return type(box) is list and len(box) > 0 and box[0] == _INITIALIZER_ERROR
