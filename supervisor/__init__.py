"""Supervision trees with OTP's semantics, the daemon runner and the command line."""

from ._backoff import backoff_delay as backoff_delay
from ._backoff import current_attempt as current_attempt
from ._check import check_child as check_child
from ._check import check_supervisor as check_supervisor
from ._control import PROTOCOL_VERSION as PROTOCOL_VERSION
from ._control import serve_control as serve_control
from ._control_client import control_request as control_request
from ._control_ops import SCHEMA_VERSION as SCHEMA_VERSION
from ._decisions import should_restart as should_restart
from ._exceptions import AlreadyPresent as AlreadyPresent
from ._exceptions import AlreadyStarted as AlreadyStarted
from ._exceptions import ChildNotFound as ChildNotFound
from ._exceptions import ChildNotRunning as ChildNotRunning
from ._exceptions import ChildRestarting as ChildRestarting
from ._exceptions import ChildRunning as ChildRunning
from ._exceptions import ControlError as ControlError
from ._exceptions import DaemonNotRunning as DaemonNotRunning
from ._exceptions import InvalidSpec as InvalidSpec
from ._exceptions import NotSupported as NotSupported
from ._exceptions import ProgramExited as ProgramExited
from ._exceptions import SocketPathTooLong as SocketPathTooLong
from ._exceptions import StartFailed as StartFailed
from ._exceptions import StashFull as StashFull
from ._exceptions import SupervisorError as SupervisorError
from ._exceptions import TreeExited as TreeExited
from ._handles import ChildAddress as ChildAddress
from ._handles import SupervisorHandle as SupervisorHandle
from ._intensity import Restarts as Restarts
from ._intensity import add_restart as add_restart
from ._intensity import exceeded as exceeded
from ._listener import listener as listener
from ._listener import listener_address as listener_address
from ._metrics import serve_metrics as serve_metrics
from ._program import program as program
from ._program import program_pid as program_pid
from ._siblings import Sibling as Sibling
from ._spec import BRUTAL_KILL as BRUTAL_KILL
from ._spec import INFINITY as INFINITY
from ._spec import AutoShutdown as AutoShutdown
from ._spec import Backoff as Backoff
from ._spec import ChildKind as ChildKind
from ._spec import ChildSpec as ChildSpec
from ._spec import Restart as Restart
from ._spec import ShutdownMode as ShutdownMode
from ._spec import ShutdownPolicy as ShutdownPolicy
from ._spec import Strategy as Strategy
from ._spec import Supervisor as Supervisor
from ._state import ChildCounts as ChildCounts
from ._state import ChildInfo as ChildInfo
from ._status import ChildState as ChildState
from ._status import ChildStatus as ChildStatus
from ._status import SupervisorStatus as SupervisorStatus
from ._store import Snapshot as Snapshot
from ._store import StateStore as StateStore
from ._store import StoreStatistics as StoreStatistics
from ._store_database import StoreSettings as StoreSettings
from ._store_errors import PersistenceError as PersistenceError
from ._store_errors import StaleGeneration as StaleGeneration
from ._store_errors import StoreFull as StoreFull
from ._store_errors import StoreInUse as StoreInUse
from ._store_errors import StoreIOError as StoreIOError
from ._store_errors import StoreLocked as StoreLocked
from ._store_errors import UnsafeStoreDirectory as UnsafeStoreDirectory
from ._store_memory import GatedStore as GatedStore
from ._store_memory import MemoryStore as MemoryStore
from ._store_sqlite import SqliteStore as SqliteStore
from ._store_sqlite import open_sqlite_store as open_sqlite_store
from ._tree import open_tree as open_tree
from ._tree_state import StoredState as StoredState
from ._tree_state import drop_state as drop_state
from ._tree_state import read_state as read_state

__all__ = [
    "BRUTAL_KILL",
    "INFINITY",
    "PROTOCOL_VERSION",
    "SCHEMA_VERSION",
    "AlreadyPresent",
    "AlreadyStarted",
    "AutoShutdown",
    "Backoff",
    "ChildAddress",
    "ChildCounts",
    "ChildInfo",
    "ChildKind",
    "ChildNotFound",
    "ChildNotRunning",
    "ChildRestarting",
    "ChildRunning",
    "ChildSpec",
    "ChildState",
    "ChildStatus",
    "ControlError",
    "DaemonNotRunning",
    "GatedStore",
    "InvalidSpec",
    "MemoryStore",
    "NotSupported",
    "PersistenceError",
    "ProgramExited",
    "Restart",
    "Restarts",
    "ShutdownMode",
    "ShutdownPolicy",
    "Sibling",
    "Snapshot",
    "SocketPathTooLong",
    "SqliteStore",
    "StaleGeneration",
    "StartFailed",
    "StashFull",
    "StateStore",
    "StoreFull",
    "StoreIOError",
    "StoreInUse",
    "StoreLocked",
    "StoreSettings",
    "StoreStatistics",
    "StoredState",
    "Strategy",
    "Supervisor",
    "SupervisorError",
    "SupervisorHandle",
    "SupervisorStatus",
    "TreeExited",
    "UnsafeStoreDirectory",
    "add_restart",
    "backoff_delay",
    "check_child",
    "check_supervisor",
    "control_request",
    "current_attempt",
    "drop_state",
    "exceeded",
    "listener",
    "listener_address",
    "open_sqlite_store",
    "open_tree",
    "program",
    "program_pid",
    "read_state",
    "serve_control",
    "serve_metrics",
    "should_restart",
]
