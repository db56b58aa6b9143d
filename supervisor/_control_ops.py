"""What the control socket's operations do to a running tree, and the status document.

Each operation takes the tree's root handle and returns a msgpack- and
JSON-ready value, or raises :class:`ControlError` with a code the client
shows. The status document's schema is in docs/operations.md
(:data:`SCHEMA_VERSION`).
"""

from __future__ import annotations

import os
import time
from typing import Any, Final

from spawn import Codec, CodecError

from ._exceptions import (
    ChildNotFound,
    ChildNotRunning,
    ControlError,
    StartFailed,
    SupervisorError,
)
from ._handles import SupervisorHandle
from ._status import ChildState, ChildStatus, SupervisorStatus, ref_text
from ._store import StateStore

#: The version of the ``status --json`` document; raised when a field changes meaning.
SCHEMA_VERSION: Final = 1
#: How much of a decoded state ``state PATH`` shows.
PREVIEW_CHARS: Final = 400


def status_document(
    tree: SupervisorStatus, *, pid: int, now: float | None = None
) -> dict[str, Any]:
    """The live tree as ``letitcrash status --json`` prints it."""
    now = time.time() if now is None else now
    return {
        "schema_version": SCHEMA_VERSION,
        "pid": pid,
        "health": "degraded" if tree.degraded else "running",
        "tree": _supervisor(tree, now),
    }


def _supervisor(status: SupervisorStatus, now: float) -> dict[str, Any]:
    return {
        "path": status.path,
        "strategy": status.strategy.value,
        "intensity": status.intensity,
        "period": status.period,
        "recent_restarts": status.recent_restarts,
        "children": [_child(child, now) for child in status.children],
    }


def _child(child: ChildStatus, now: float) -> dict[str, Any]:
    running = child.state is ChildState.RUNNING and child.started_at is not None
    return {
        "id": child.id,
        "path": child.path,
        "kind": child.kind.value,
        "restart": child.restart.value,
        "placement": child.placement,
        "state": child.state.value,
        "ref": None if child.ref is None else ref_text(child.ref),
        "pid": child.pid,
        "restarts": child.restarts,
        "started_at": child.started_at,
        "uptime": max(0.0, now - child.started_at) if running and child.started_at else None,
        "mailbox_depth": child.mailbox_depth,
        "last_exit": child.last_exit,
        "degraded": child.degraded,
        "supervisor": None if child.supervisor is None else _supervisor(child.supervisor, now),
    }


async def status(root: SupervisorHandle) -> dict[str, Any]:
    return status_document(await root.describe_tree(), pid=os.getpid())


def check_path(path: object) -> str:
    """A child's path in the tree: ``"id"`` or ``"sup/id"`` (ids never hold ``/``)."""
    if not isinstance(path, str) or not path or any(not part for part in path.split("/")):
        raise ControlError("bad_path", f"a child path is 'id' or 'sup/id', not {path!r}")
    return path


async def find(root: SupervisorHandle, path: str) -> ChildStatus | None:
    """The child at ``path``, or None (its supervisor is found by walking the live tree,
    so a path through a worker never sends a supervisor's request to that worker)."""
    for child in (await root.describe_tree()).walk():
        if child.path == path:
            return child
    return None


async def restart(root: SupervisorHandle, path: str, *, drop_state: bool = False) -> dict[str, Any]:
    """Stop the child at ``path`` and start it again (not counted toward the intensity)."""
    if await find(root, path) is None:
        raise ControlError("not_found", f"no child {path!r} in the tree")
    parent, _, child_id = path.rpartition("/")
    handle = root.supervisor(parent) if parent else root
    try:
        ref = await handle.reincarnate_child(child_id, drop_state=drop_state)
    except (ChildNotFound, ChildNotRunning) as exc:
        raise ControlError("not_found", str(exc)) from exc
    except StartFailed as exc:
        raise ControlError("failed", str(exc)) from exc
    return {"path": path, "ref": None if ref is None else ref_text(ref)}


async def state(
    root: SupervisorHandle,
    store: StateStore | None,
    path: str,
    *,
    drop: bool = False,
    restart_child: bool = False,
) -> dict[str, Any]:
    """Show the state stored under ``path``; with ``drop``, forget it (a running child only
    with ``restart_child``: it is stopped, its state dropped, and started again)."""
    if store is None:
        raise ControlError("no_store", "this tree keeps no state (it was opened without a store)")
    shown = await _stored(store, path)
    if not drop:
        return shown
    child = await find(root, path)
    if child is not None and child.state is not ChildState.STOPPED:
        if not restart_child:
            raise ControlError(
                "running",
                f"child {path!r} is {child.state.value}: drop its state with --restart "
                "(stop it, drop the state, start it again)",
            )
        shown["restarted"] = await restart(root, path, drop_state=True)
    else:
        await store.delete(path)
    shown["dropped"] = shown["found"]
    return shown


async def _stored(store: StateStore, key: str) -> dict[str, Any]:
    snapshot = await store.get(key)
    if snapshot is None:
        return {"key": key, "found": False}
    try:
        preview = repr(Codec().decode(snapshot.data))
    except CodecError as exc:
        preview = f"<undecodable: {exc}>"
    if len(preview) > PREVIEW_CHARS:
        preview = preview[: PREVIEW_CHARS - 3] + "..."
    return {
        "key": key,
        "found": True,
        "version": snapshot.version,
        "generation": snapshot.generation,
        "size": len(snapshot.data),
        "preview": preview,
    }


def error_of(exc: SupervisorError) -> ControlError:
    return exc if isinstance(exc, ControlError) else ControlError("failed", str(exc))
