"""The OS process layer: codec, spawn templates, workers, channel, pool, orphan reaper.

Only the exceptions are imported eagerly; every other name is loaded on first
use (PEP 562), so a worker that imports ``spawn._fnworker`` pays neither for
trio nor for ``dataclasses``; ``dir(spawn)`` lists them before they are loaded.
"""

from __future__ import annotations

from ._exceptions import CodecError as CodecError
from ._exceptions import DecodeError as DecodeError
from ._exceptions import EncodeError as EncodeError
from ._exceptions import FrameTooLarge as FrameTooLarge
from ._exceptions import InitializerError as InitializerError
from ._exceptions import NotByReference as NotByReference
from ._exceptions import PoolClosed as PoolClosed
from ._exceptions import ProtocolError as ProtocolError
from ._exceptions import RemoteError as RemoteError
from ._exceptions import RemoteTraceback as RemoteTraceback
from ._exceptions import SpawnError as SpawnError
from ._exceptions import WorkerDied as WorkerDied
from ._exceptions import WorkerStartError as WorkerStartError

TYPE_CHECKING = False  # typing costs a function worker 12 ms; mypy reads this name as usual

if TYPE_CHECKING:
    from ._calls import function_ref as function_ref
    from ._calls import rebuild_error as rebuild_error
    from ._channel import FRAME_HEADER as FRAME_HEADER
    from ._channel import Channel as Channel
    from ._channel import SocketStream as SocketStream
    from ._codec import Codec as Codec
    from ._codec import ExtCodec as ExtCodec
    from ._codec import ExtRegistry as ExtRegistry
    from ._codec import Limits as Limits
    from ._executor import BrokenWorker as BrokenWorker
    from ._executor import Executor as Executor
    from ._fnworker import resolve_ref as resolve_ref
    from ._pipeline import Job as Job
    from ._pool import Pool as Pool
    from ._pool import PoolStatistics as PoolStatistics
    from ._pool import WorkerPool as WorkerPool
    from ._pool import open_pool as open_pool
    from ._pool import open_worker_pool as open_worker_pool
    from ._process import Process as Process
    from ._program import ProgramChild as ProgramChild
    from ._reaper import Reaper as Reaper
    from ._reaper import become_subreaper as become_subreaper
    from ._reaper import open_reaper as open_reaper
    from ._survivors import record_programs as record_programs
    from ._survivors import stop_survivors as stop_survivors
    from ._survivors import write_private as write_private
    from ._template import FUNCTION_WORKER as FUNCTION_WORKER
    from ._template import SERVICE_VARIABLES as SERVICE_VARIABLES
    from ._template import SpawnTemplate as SpawnTemplate
    from ._template import allowlisted_env as allowlisted_env
    from ._template import inherited_env as inherited_env
    from ._template import without_service_variables as without_service_variables
    from ._worker import Worker as Worker
    from ._worker import function_config as function_config
    from ._worker import start_worker as start_worker

_LAZY = {
    "BrokenWorker": "._executor",
    "Channel": "._channel",
    "Codec": "._codec",
    "Executor": "._executor",
    "ExtCodec": "._codec",
    "ExtRegistry": "._codec",
    "FRAME_HEADER": "._channel",
    "FUNCTION_WORKER": "._template",
    "Job": "._pipeline",
    "Limits": "._codec",
    "Pool": "._pool",
    "PoolStatistics": "._pool",
    "Process": "._process",
    "ProgramChild": "._program",
    "Reaper": "._reaper",
    "SocketStream": "._channel",
    "SpawnTemplate": "._template",
    "Worker": "._worker",
    "WorkerPool": "._pool",
    "allowlisted_env": "._template",
    "become_subreaper": "._reaper",
    "function_config": "._worker",
    "function_ref": "._calls",
    "inherited_env": "._template",
    "open_pool": "._pool",
    "open_reaper": "._reaper",
    "open_worker_pool": "._pool",
    "record_programs": "._survivors",
    "rebuild_error": "._calls",
    "resolve_ref": "._fnworker",
    "start_worker": "._worker",
    "stop_survivors": "._survivors",
    "without_service_variables": "._template",
    "write_private": "._survivors",
    "SERVICE_VARIABLES": "._template",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'spawn' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = [
    "FRAME_HEADER",
    "FUNCTION_WORKER",
    "SERVICE_VARIABLES",
    "BrokenWorker",
    "Channel",
    "Codec",
    "CodecError",
    "DecodeError",
    "EncodeError",
    "Executor",
    "ExtCodec",
    "ExtRegistry",
    "FrameTooLarge",
    "InitializerError",
    "Job",
    "Limits",
    "NotByReference",
    "Pool",
    "PoolClosed",
    "PoolStatistics",
    "Process",
    "ProgramChild",
    "ProtocolError",
    "Reaper",
    "RemoteError",
    "RemoteTraceback",
    "SocketStream",
    "SpawnError",
    "SpawnTemplate",
    "Worker",
    "WorkerDied",
    "WorkerPool",
    "WorkerStartError",
    "allowlisted_env",
    "become_subreaper",
    "function_config",
    "function_ref",
    "inherited_env",
    "open_pool",
    "open_reaper",
    "open_worker_pool",
    "rebuild_error",
    "record_programs",
    "resolve_ref",
    "start_worker",
    "stop_survivors",
    "without_service_variables",
    "write_private",
]
