"""The parent's ``__main__`` in a function worker, as multiprocessing's spawn context has it.

A function or class defined in ``__main__`` of the parent travels as
``__main__.name`` (by reference, or inside a pickle). A worker runs the
parent's main script (or module) as ``__mp_main__``, so that its ``if __name__
== "__main__":`` block stays off, and answers ``__main__`` with it. Unlike
multiprocessing it does so on first use, not at start: a worker that never
needs ``__main__`` never runs the script.

This module is stdlib-only: a function worker imports it before any job.
"""

from __future__ import annotations

import os
import sys
import types

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def main_spec() -> list[str] | None:
    """How a worker finds this process's ``__main__``: ``["name", module]``,
    ``["path", file]``, or ``None`` (an interactive session, ``python -c``, a package's
    ``__main__``), as :func:`multiprocessing.spawn.get_preparation_data` decides."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    name = getattr(spec, "name", None)
    if isinstance(name, str):
        if name == "__main__" or name.endswith(".__main__"):
            return None
        return ["name", name]
    path = getattr(main, "__file__", None)
    if not isinstance(path, str):
        return None
    return ["path", os.path.abspath(path)]


class LazyMain(types.ModuleType):
    """``__main__`` and ``__mp_main__`` of a worker: the parent's main, run on first use."""

    def __init__(self, spec: list[str]) -> None:
        super().__init__("__mp_main__")
        self.__dict__["_lazy_spec"] = spec
        self.__dict__["_lazy_state"] = "waiting"

    def __getattr__(self, name: str) -> Any:
        state = self.__dict__["_lazy_state"]
        if name.startswith("__") or state != "waiting":
            raise AttributeError(f"module '__main__' has no attribute {name!r}")
        self.__dict__["_lazy_state"] = "running"
        import runpy

        kind, where = self.__dict__["_lazy_spec"]
        try:
            if kind == "name":
                content = runpy.run_module(where, run_name="__mp_main__", alter_sys=True)
            else:
                content = runpy.run_path(where, run_name="__mp_main__")
        finally:
            self.__dict__["_lazy_state"] = "done"
            sys.modules["__main__"] = sys.modules["__mp_main__"] = self
        self.__dict__.update(content)
        try:
            return self.__dict__[name]
        except KeyError:
            raise AttributeError(f"module '__main__' has no attribute {name!r}") from None


def install_main(spec: list[str] | None) -> None:
    """Answer ``__main__`` (and ``__mp_main__``) with the parent's main, loaded on first use."""
    if spec is None:
        return
    lazy = LazyMain(spec)
    sys.modules["__main__"] = sys.modules["__mp_main__"] = lazy
