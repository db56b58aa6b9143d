"""The operator's subcommands of ``letitcrash``: status, stop, restart, state.

``add_commands(subparsers)`` adds them to the ``letitcrash`` parser; each sets
``func(args) -> int`` (the exit code). ``status`` exits like an init script's
status: 0 running, 1 degraded or restarting, 3 not running, 4 unknown (the
daemon did not answer properly).

>>> import argparse
>>> parser = argparse.ArgumentParser(prog="letitcrash")
>>> add_commands(parser.add_subparsers(dest="command", required=True))
>>> args = parser.parse_args(["status", "--state-dir", "/nonexistent/state"])
>>> args.func(args)
letitcrash: not running (no daemon at '/nonexistent/state/control/control.sock': ...)
3
"""

from __future__ import annotations

import argparse
import json
import math
import os
import select
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import trio

from ._control_client import control_request
from ._exceptions import ControlError, DaemonNotRunning
from ._paths import control_socket_path, state_directory

RUNNING: Final = 0
DEGRADED: Final = 1
NOT_RUNNING: Final = 3
UNKNOWN: Final = 4
#: How often ``stop`` looks again whether the socket still answers, once the pid is gone.
_POLL: Final = 0.05


def add_commands(subparsers: Any) -> None:
    """Add ``status``, ``stop``, ``restart`` and ``state`` to ``letitcrash``'s subparsers."""
    status = _command(
        subparsers, "status", "show the live tree (exit 0 running, 1 degraded, 3 not)"
    )
    status.add_argument("--json", action="store_true", help="print the versioned JSON document")
    status.set_defaults(func=run_status)
    stop = _command(subparsers, "stop", "stop the daemon in order; return once it is gone")
    stop.add_argument("--timeout", type=float, default=60.0, help="seconds to wait (default 60)")
    stop.set_defaults(func=run_stop)
    restart = _command(subparsers, "restart", "stop one child and start it again (a new ref)")
    restart.add_argument("path", help="the child's path in the tree: 'id' or 'sup/id'")
    restart.set_defaults(func=run_restart)
    state = _command(subparsers, "state", "show (or drop) one child's stored state")
    state.add_argument("path", help="the child's path in the tree (its state key)")
    state.add_argument("--drop", action="store_true", help="forget the stored state")
    state.add_argument(
        "--restart", action="store_true", help="with --drop: stop a running child, drop, start"
    )
    state.set_defaults(func=run_state)


def _command(subparsers: Any, name: str, summary: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(name, help=summary, description=summary)
    parser.add_argument(
        "--state-dir",
        default=None,
        help="the daemon's state directory (default: $STATE_DIRECTORY, else "
        "$XDG_STATE_HOME/letitcrash, else ~/.local/state/letitcrash)",
    )
    return parser


def _socket(args: argparse.Namespace) -> Path:
    return control_socket_path(state_directory(args.state_dir))


def _ask(args: argparse.Namespace, op: str, **request: Any) -> Any:
    return trio.run(_request, _socket(args), op, request)


async def _request(path: Path, op: str, request: dict[str, Any]) -> Any:
    return await control_request(path, op, **request)


def _guarded(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def guarded(args: argparse.Namespace) -> int:
        try:
            return run(args)
        except DaemonNotRunning as exc:
            print(f"letitcrash: not running ({str(exc).removeprefix('not_running: ')})")
            return NOT_RUNNING
        except (ControlError, trio.TooSlowError, OSError) as exc:
            print(f"letitcrash: {exc or type(exc).__name__}", file=sys.stderr)
            return UNKNOWN

    guarded.__name__ = run.__name__
    guarded.__doc__ = run.__doc__
    return guarded


@_guarded
def run_status(args: argparse.Namespace) -> int:
    """``letitcrash status [--json]``."""
    document = _ask(args, "status")
    if args.json:
        print(json.dumps(document, indent=2))
    else:
        print(draw(document))
    return DEGRADED if document.get("health") != "running" else RUNNING


@_guarded
def run_restart(args: argparse.Namespace) -> int:
    """``letitcrash restart PATH``."""
    result = _ask(args, "restart", path=args.path)
    print(f"restarted {result['path']} as {result['ref']}")
    return 0


@_guarded
def run_state(args: argparse.Namespace) -> int:
    """``letitcrash state PATH [--drop [--restart]]``."""
    if args.restart and not args.drop:
        print("letitcrash: --restart goes with --drop", file=sys.stderr)
        return 2
    result = _ask(args, "state", path=args.path, drop=args.drop, restart=args.restart)
    if not result["found"]:
        print(f"{result['key']}: no stored state")
    else:
        print(
            f"{result['key']}: generation {result['generation']}, version {result['version']}, "
            f"{result['size']} bytes\n  {result['preview']}"
        )
    if result.get("dropped"):
        restarted = result.get("restarted")
        print("dropped" + ("" if restarted is None else f"; restarted as {restarted['ref']}"))
    return 0


@_guarded
def run_stop(args: argparse.Namespace) -> int:
    """``letitcrash stop [--timeout S]``: returns once the daemon's pid and socket are gone."""
    path = _socket(args)
    try:
        pid = trio.run(_request, path, "stop", {})["pid"]
    except DaemonNotRunning:
        print("letitcrash: not running")
        return 0
    deadline = time.monotonic() + args.timeout
    if _wait_gone(pid, deadline) and _wait_refused(path, deadline):
        print(f"letitcrash: stopped (pid {pid})")
        return 0
    print(f"letitcrash: pid {pid} still running after {args.timeout} s", file=sys.stderr)
    return 1


def _wait_gone(pid: int, deadline: float) -> bool:
    """Wait until process ``pid`` has exited (a pidfd turns readable), up to ``deadline``."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        left = max(0.0, deadline - time.monotonic())
        readable, _, _ = select.select([fd], [], [], left)
        return bool(readable)
    finally:
        os.close(fd)


def _wait_refused(path: Path, deadline: float) -> bool:
    """Wait until nothing answers at ``path`` (the daemon's socket is closed)."""
    while True:
        try:
            trio.run(_request, path, "status", {})
        except DaemonNotRunning:
            return True
        except ControlError:
            pass  # a daemon answering oddly is still there
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL)


# -- drawing --------------------------------------------------------------------

COLUMNS: Final = ("ID", "KIND", "PLACEMENT", "PID", "STATE", "RESTARTS", "UPTIME", "MAILBOX")


def draw(document: dict[str, Any]) -> str:
    """The status document as a tree in a table, one child a line, with its last exit."""
    tree = document["tree"]
    head = (
        f"letitcrash {document['health']} (pid {document['pid']}); "
        f"{tree['strategy']}, {tree['recent_restarts']} of {tree['intensity']} restarts "
        f"in {tree['period']:g} s"
    )
    rows: list[tuple[str, ...]] = [(*COLUMNS, "LAST EXIT")]
    _rows(tree["children"], "", rows)
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = [head]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return "\n".join(lines)


def _rows(children: list[dict[str, Any]], prefix: str, rows: list[tuple[str, ...]]) -> None:
    for index, child in enumerate(children):
        last = index == len(children) - 1
        branch = "└─ " if last else "├─ "
        pid = child["pid"]
        rows.append(
            (
                prefix + branch + child["id"],
                child["kind"],
                child["placement"],
                "-" if pid is None else str(pid),
                child["state"] + (" !" if child["degraded"] else ""),
                str(child["restarts"]),
                _duration(child["uptime"]),
                str(child["mailbox_depth"]),
                child["last_exit"] or "-",
            )
        )
        nested = child["supervisor"]
        if nested is not None:
            _rows(nested["children"], prefix + ("   " if last else "│  "), rows)


def _duration(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "-"
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"
