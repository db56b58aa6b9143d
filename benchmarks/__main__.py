"""``python -m benchmarks [suite ...] [--quick] [--json PATH]``: run suites, print a table."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence

from ._core import Case, Record, measure, table

SuiteFn = Callable[[bool], list[Case]]


def _suites() -> dict[str, SuiteFn]:
    from . import _executor, _inproc, _ipc, _persist_actors, _services, _spawn

    def spawn_suite(quick: bool) -> list[Case]:
        return _spawn.cases(quick) + _executor.cases(quick)

    return {
        "inproc": _inproc.cases,
        "spawn": spawn_suite,
        "ipc": _ipc.ipc_cases,
        "restart": _ipc.restart_cases,
        "services": _services.cases,
        "persist": _persist_actors.cases,
    }


def main(argv: Sequence[str] | None = None) -> int:
    suites = _suites()
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("suite", nargs="*", choices=[*suites, []], help="default: all")
    parser.add_argument("--quick", action="store_true", help="few rounds, small sizes")
    parser.add_argument("--json", metavar="PATH", help="also write the records as JSON")
    args = parser.parse_args(argv)
    chosen: list[str] = args.suite or list(suites)
    records: list[Record] = []
    for name in chosen:
        cases = suites[name](args.quick)
        records += measure(name, cases, rounds=3 if args.quick else 9)
    print(table(records))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump([r.as_json() for r in records], out, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
