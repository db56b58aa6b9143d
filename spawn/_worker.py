"""A started, handshaken worker: its process and its channel.

>>> import trio
>>> async def main() -> int:
...     worker = await start_worker(SpawnTemplate.worker(config=function_config()))
...     try:
...         await worker.channel.send([1, "operator", "add", [[2, 3], {}]])
...         return (await worker.channel.receive())[2]
...     finally:
...         await worker.aclose(budget=5)
>>> trio.run(main)
5
"""

from __future__ import annotations

import contextlib
import marshal
import os
import pickle
import socket
import sys
import time
from collections.abc import Callable
from typing import Final

import trio

from ._calls import CodecName, describe, encode_call, function_ref
from ._channel import FRAME_TIMEOUT, Channel, Coder, SocketStream
from ._codec import Codec, Limits
from ._exceptions import WorkerStartError
from ._mainmodule import main_spec
from ._process import KILL_REAP_TIMEOUT, Process
from ._template import CHANNEL_FD, SpawnTemplate

PROTOCOL_VERSION: Final = 1
_HELLO: Final = b"LCW"
_READY: Final = b"READY"
_ERROR: Final = b"ERROR"
_PAGE: Final = os.sysconf("SC_PAGE_SIZE")


def function_config(
    codec: CodecName = "msgpack",
    limits: Limits | None = None,
    initializer: Callable[..., object] | None = None,
    initargs: tuple[object, ...] = (),
    frame_timeout: float = FRAME_TIMEOUT,
) -> object:
    """The ``config`` a function worker's template carries.

    ``initializer(*initargs)`` runs in each worker before its first call; the
    arguments travel encoded with ``codec`` (the config itself goes by marshal),
    and with pickle the initializer too, by value. Workers learn where this
    process's ``__main__`` comes from (see :mod:`spawn._mainmodule`); with
    pickle they also get its multiprocessing authkey, so that Manager proxies
    passed to them authenticate (it travels only over the worker's channel).
    ``frame_timeout`` is the worker's deadline for the rest of a frame begun.
    """
    lim = limits or Limits()
    config: dict[str, object] = {
        "codec": codec,
        "limits": (lim.frame, lim.string, lim.container, lim.depth),
        "frame_timeout": float(frame_timeout),
        "main": main_spec(),
    }
    if codec == "pickle":
        import multiprocessing.process

        config["authkey"] = bytes(multiprocessing.process.current_process().authkey)
    if initializer is not None:
        if codec == "pickle":
            module, qualname = describe(initializer)
            payload: object = pickle.dumps((initializer, tuple(initargs)), pickle.HIGHEST_PROTOCOL)
        else:
            module, qualname = function_ref(initializer, script_main=True)
            payload = encode_call(0, (module, qualname), tuple(initargs), {}, codec)[3]
            payload = Codec(limits=lim).encode(payload)
        config["initializer"] = [module, qualname, payload]
    return config


class Worker:
    """A worker process that answered its handshake, and the channel to it.

    ``channel`` speaks the codec given to :func:`start_worker`; what travels on it
    is the business of the worker's entry module. ``tasks``, ``broken`` and
    ``last_used`` are the pool's bookkeeping.
    """

    def __init__(self, process: Process, channel: Channel) -> None:
        self.process = process
        self.channel = channel
        self.tasks = 0
        self.broken = False  # its initializer failed: it answered one call and exits
        self.last_used = trio.current_time()
        self.started = time.monotonic()

    @property
    def pid(self) -> int:
        return self.process.pid

    def __repr__(self) -> str:
        return f"<Worker pid={self.pid} tasks={self.tasks}>"

    def rss(self) -> int:
        """Resident memory in bytes (from ``/proc/PID/statm``), 0 once it is gone."""
        try:
            with open(f"/proc/{self.pid}/statm", "rb") as statm:
                return int(statm.read().split()[1]) * _PAGE
        except (OSError, IndexError, ValueError):
            return 0

    async def aclose(self, budget: float) -> int:
        """Stop the worker within ``budget`` seconds, reap it, close the channel.

        The ladder of :meth:`Process.stop`: end of file on the channel first (the
        worker exits), SIGTERM at half the budget, SIGKILL at the end. Always
        reaps and closes, also when cancelled; returns the exit status.
        """
        try:
            return await self.process.stop(budget, ask=self._ask)
        finally:
            with trio.CancelScope(shield=True):
                await self.channel.aclose()

    async def _ask(self) -> None:
        with contextlib.suppress(
            trio.BrokenResourceError, trio.ClosedResourceError, trio.BusyResourceError
        ):
            await self.channel.send_eof()


async def start_worker(
    template: SpawnTemplate,
    *,
    codec: Coder | None = None,
    timeout: float = 30.0,
    frame_timeout: float = FRAME_TIMEOUT,
) -> Worker:
    """Spawn a worker from ``template`` and complete its handshake within ``timeout``.

    The worker's channel gives the rest of a frame begun ``frame_timeout`` seconds.

    Raises :class:`WorkerStartError` if it cannot be spawned, does not answer in
    time, answers wrongly, or cannot import its entry or preload modules (then
    with the worker's traceback in the message). Nothing is left behind on
    failure or cancellation: the process is killed and reaped, the socket closed.
    """
    if template.entry is None:
        raise ValueError("start_worker needs a worker template (SpawnTemplate.worker)")
    parent_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        try:
            process = Process.spawn(template, {CHANNEL_FD: child_sock.fileno()})
        finally:
            child_sock.close()
    except OSError as exc:
        parent_sock.close()
        raise WorkerStartError(f"posix_spawn of {template.argv[0]} failed: {exc}") from exc
    channel = Channel(SocketStream(parent_sock), codec or Codec(), frame_timeout=frame_timeout)
    worker = Worker(process, channel)
    try:
        with trio.fail_after(timeout):
            await _handshake(worker, template)
    except BaseException as exc:
        with trio.move_on_after(KILL_REAP_TIMEOUT) as scope:
            scope.shield = True
            await worker.aclose(budget=0)
        if isinstance(exc, trio.TooSlowError):
            raise WorkerStartError(
                f"worker {process.pid} did not answer within {timeout} s"
            ) from exc
        if isinstance(exc, trio.EndOfChannel | trio.BrokenResourceError):
            raise WorkerStartError(
                f"worker {process.pid} exited during its handshake (status {process.returncode})"
            ) from exc
        raise
    return worker


def _init_message(template: SpawnTemplate, nonce: bytes) -> bytes:
    init = {
        "version": PROTOCOL_VERSION,
        "nonce": nonce,
        "ppid": os.getpid(),
        "path": [os.path.abspath(p) if p else os.getcwd() for p in sys.path],
        "cwd": template.cwd,
        "rlimits": [(which, soft, hard) for which, (soft, hard) in template.rlimits.items()],
        "preload": list(template.preload),
        "entry": template.entry,
        "config": template.config,
    }
    return marshal.dumps(init)


async def _handshake(worker: Worker, template: SpawnTemplate) -> None:
    nonce = os.urandom(16)
    await worker.channel.send_frame(_init_message(template, nonce))
    expected = _HELLO + bytes([PROTOCOL_VERSION]) + worker.pid.to_bytes(4, "big") + nonce
    hello = await worker.channel.receive_frame()
    if hello != expected:
        raise WorkerStartError(f"worker {worker.pid} answered the handshake wrongly: {hello!r:.80}")
    status = await worker.channel.receive_frame()
    if status.startswith(_ERROR):
        text = status[len(_ERROR) :].decode("utf-8", "replace")
        raise WorkerStartError(f"worker {worker.pid} failed to start:\n{text}")
    if status != _READY:
        raise WorkerStartError(f"worker {worker.pid} sent {status!r:.80} instead of ready")
    await trio.lowlevel.checkpoint()
