"""Actors as trio tasks, in the spirit of OTP's gen_server: refs, calls, links, monitors."""

from ._asyncio_actor import AsyncioActor as AsyncioActor
from ._behaviour import Actor as Actor
from ._behaviour import CallResult as CallResult
from ._behaviour import Ignore as Ignore
from ._behaviour import InfoResult as InfoResult
from ._behaviour import NoReply as NoReply
from ._behaviour import Reply as Reply
from ._behaviour import Stop as Stop
from ._calls import Caller as Caller
from ._exceptions import ActorError as ActorError
from ._exceptions import ActorExited as ActorExited
from ._exceptions import CallTimeout as CallTimeout
from ._exceptions import CallToSelf as CallToSelf
from ._exceptions import InitError as InitError
from ._exceptions import InvalidReturn as InvalidReturn
from ._exceptions import MailboxFull as MailboxFull
from ._exceptions import NameTaken as NameTaken
from ._exceptions import NoHostLoop as NoHostLoop
from ._exceptions import NoStateStore as NoStateStore
from ._exceptions import NoSuchActor as NoSuchActor
from ._exceptions import NotRunning as NotRunning
from ._exceptions import RootStateError as RootStateError
from ._exceptions import SnapshotError as SnapshotError
from ._exceptions import SnapshotTooNew as SnapshotTooNew
from ._exceptions import StartIgnored as StartIgnored
from ._exceptions import StateError as StateError
from ._guest import run_on_uvloop as run_on_uvloop
from ._messages import Down as Down
from ._messages import Exit as Exit
from ._messages import GroupJoined as GroupJoined
from ._messages import GroupLeft as GroupLeft
from ._persistent import ON_SHUTDOWN as ON_SHUTDOWN
from ._persistent import STRICT as STRICT
from ._persistent import Durability as Durability
from ._persistent import OnShutdown as OnShutdown
from ._persistent import Periodic as Periodic
from ._persistent import Persistent as Persistent
from ._persistent import StateStore as StateStore
from ._persistent import Strict as Strict
from ._persistent import check_durability as check_durability
from ._persistent import to_data as to_data
from ._placement import Placement as Placement
from ._placement import SharedWorker as SharedWorker
from ._placement import WorkerOptions as WorkerOptions
from ._placement import check_placeable as check_placeable
from ._placement import check_placement as check_placement
from ._reasons import KILLED as KILLED
from ._reasons import NOPROC as NOPROC
from ._reasons import NORMAL as NORMAL
from ._reasons import SHUTDOWN as SHUTDOWN
from ._reasons import Crash as Crash
from ._reasons import ExitReason as ExitReason
from ._reasons import Killed as Killed
from ._reasons import NoProc as NoProc
from ._reasons import Normal as Normal
from ._reasons import Shutdown as Shutdown
from ._reasons import is_abnormal as is_abnormal
from ._records import ExitWatch as ExitWatch
from ._records import RuntimeStatistics as RuntimeStatistics
from ._ref import DEFAULT_CALL_TIMEOUT as DEFAULT_CALL_TIMEOUT
from ._ref import ActorRef as ActorRef
from ._ref import Address as Address
from ._ref import MonitorRef as MonitorRef
from ._ref import NamedRef as NamedRef
from ._runtime import Runtime as Runtime
from ._runtime import open_runtime as open_runtime
from ._timers import Timer as Timer

__all__ = [
    "DEFAULT_CALL_TIMEOUT",
    "KILLED",
    "NOPROC",
    "NORMAL",
    "ON_SHUTDOWN",
    "SHUTDOWN",
    "STRICT",
    "Actor",
    "ActorError",
    "ActorExited",
    "ActorRef",
    "Address",
    "AsyncioActor",
    "CallResult",
    "CallTimeout",
    "CallToSelf",
    "Caller",
    "Crash",
    "Down",
    "Durability",
    "Exit",
    "ExitReason",
    "ExitWatch",
    "GroupJoined",
    "GroupLeft",
    "Ignore",
    "InfoResult",
    "InitError",
    "InvalidReturn",
    "Killed",
    "MailboxFull",
    "MonitorRef",
    "NameTaken",
    "NamedRef",
    "NoHostLoop",
    "NoProc",
    "NoReply",
    "NoStateStore",
    "NoSuchActor",
    "Normal",
    "NotRunning",
    "OnShutdown",
    "Periodic",
    "Persistent",
    "Placement",
    "Reply",
    "RootStateError",
    "Runtime",
    "RuntimeStatistics",
    "SharedWorker",
    "Shutdown",
    "SnapshotError",
    "SnapshotTooNew",
    "StartIgnored",
    "StateError",
    "StateStore",
    "Stop",
    "Strict",
    "Timer",
    "WorkerOptions",
    "check_durability",
    "check_placeable",
    "check_placement",
    "is_abnormal",
    "open_runtime",
    "run_on_uvloop",
    "to_data",
]
