"""The ``letitcrash`` command: ``run`` a tree as a service, ``check`` one without starting it,
and operate a running one (``status``, ``stop``, ``restart``, ``state``: docs/operations.md).

Exit codes: 0 after an orderly stop, 1 when the root supervisor gave up (or the
tree failed to start), 2 for bad input before anything started, 130 or 143 after
a second SIGINT or SIGTERM (docs/daemon.md).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from collections.abc import Sequence
from importlib.metadata import version

import trio

from actors import run_on_uvloop

from ._control_cli import add_commands
from ._daemon import EXIT_USAGE, Daemon
from ._logs import LOG_FORMATS, configure_logging
from ._notify import Notifier, take_service_manager_variables
from ._paths import state_directory
from ._target import BadTarget, load_target


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="letitcrash", description="Erlang/OTP-grade supervision trees for trio."
    )
    parser.add_argument("--version", action="version", version=version("letitcrash"))
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = commands.add_parser("run", help="run a supervision tree in the foreground")
    check = commands.add_parser("check", help="check a tree without starting it")
    for sub in (run, check):
        sub.add_argument("target", metavar="module:attr", help="a Supervisor spec, or a callable")
        sub.add_argument(
            "--set",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="a keyword argument of the callable (converted by its annotation)",
        )
    run.add_argument(
        "--state-dir",
        help="where the state store lives (default: $STATE_DIRECTORY, else "
        "$XDG_STATE_HOME/letitcrash, i.e. ~/.local/state/letitcrash)",
    )
    run.add_argument("--log-format", choices=LOG_FORMATS, default="text")
    run.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    run.add_argument("--log-file", help="write the log there (0600); SIGHUP reopens it")
    run.add_argument(
        "--loop",
        choices=("trio", "uvloop"),
        default="trio",
        help="uvloop: trio runs as a guest of a uvloop host loop, for asyncio actors "
        "in the root (docs/asyncio.md)",
    )
    run.add_argument(
        "--metrics-port",
        type=int,
        help="serve Prometheus metrics on 127.0.0.1:PORT (needs the 'metrics' extra)",
    )
    run.set_defaults(func=_run)
    check.set_defaults(func=_check)
    add_commands(commands)  # status, stop, restart, state: through the control socket
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    code: int = args.func(args)
    return code


def _check(args: argparse.Namespace) -> int:
    try:
        spec = load_target(args.target, args.set)
    except BadTarget as exc:
        print(f"letitcrash check: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"{args.target}: a valid tree of {len(spec.children)} children")
    return 0


def _run(args: argparse.Namespace) -> int:
    service = take_service_manager_variables(os.environ)  # no child may see them
    try:
        spec = load_target(args.target, args.set)
    except BadTarget as exc:
        print(f"letitcrash run: {exc}", file=sys.stderr)
        return EXIT_USAGE
    problem = _metrics_problem(args.metrics_port)
    if problem is not None:
        print(f"letitcrash run: --metrics-port {args.metrics_port}: {problem}", file=sys.stderr)
        return EXIT_USAGE
    try:
        handler = configure_logging(fmt=args.log_format, level=args.log_level, path=args.log_file)
    except OSError as exc:
        print(f"letitcrash run: cannot open the log file: {exc}", file=sys.stderr)
        return EXIT_USAGE
    notifier = Notifier.from_environ(service)
    state_dir = state_directory(args.state_dir)
    daemon = Daemon(spec, args.target, state_dir, notifier, handler, args.metrics_port)
    try:
        if args.loop == "uvloop":
            return run_on_uvloop(daemon.run)
        return trio.run(daemon.run)
    finally:
        notifier.close()


def _metrics_problem(port: int | None) -> str | None:
    if port is None:
        return None
    if not 0 <= port <= 65535:
        return "a port is 0 to 65535"
    if importlib.util.find_spec("prometheus_client") is None:
        return "metrics need prometheus_client: pip install 'letitcrash[metrics]'"
    return None


if __name__ == "__main__":
    sys.exit(main())
