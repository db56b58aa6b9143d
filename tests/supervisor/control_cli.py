"""A stand-in for ``letitcrash`` with only the control subcommands (until the daemon's CLI
takes them): ``python -m tests.supervisor.control_cli status --state-dir D``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from supervisor._control_cli import add_commands


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="letitcrash")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
