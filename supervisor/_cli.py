"""The ``letitcrash`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib.metadata import version


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="letitcrash", description="Erlang/OTP-grade supervision trees for trio."
    )
    parser.add_argument("--version", action="version", version=version("letitcrash"))
    parser.parse_args(argv)
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
