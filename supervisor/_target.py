"""What ``letitcrash run module:attr`` runs: the tree that ``attr`` names, checked.

``attr`` is a :class:`Supervisor` spec, or a callable returning one whose
keyword arguments come from ``--set key=value`` (strings converted by the
callable's annotations: ``str``, ``int``, ``float``, ``bool``, ``Path``, or
``X | None`` of these).

>>> spec = load_target("examples.kv_service:tree", ["port=0"])
>>> [child.id for child in spec.children]
['store', 'kv']
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
import types
import typing
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ._check import check_supervisor
from ._exceptions import InvalidSpec
from ._spec import Supervisor


class BadTarget(Exception):
    """The target cannot be run: its message says why (the command exits 2)."""


def load_target(target: str, settings: Sequence[str] = ()) -> Supervisor:
    """Import ``module:attr`` (the current directory first on ``sys.path``, as
    ``python -m`` does), build the tree and check it; raise :class:`BadTarget`."""
    module_name, colon, attr = target.partition(":")
    if not colon or not module_name or not attr:
        raise BadTarget(f"{target!r} is not module:attr (for instance examples.kv_service:tree)")
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (module_name + ".").startswith(exc.name + "."):
            raise BadTarget(f"no module named {exc.name!r} (searched {cwd} and sys.path)") from exc
        raise BadTarget(f"importing {module_name} failed: {_describe(exc)}") from exc
    except Exception as exc:
        raise BadTarget(f"importing {module_name} failed: {_describe(exc)}") from exc
    found: Any = module
    for part in attr.split("."):
        try:
            found = getattr(found, part)
        except AttributeError:
            raise BadTarget(f"module {module_name} has no attribute {attr!r}") from None
    spec = _build(target, found, settings)
    try:
        check_supervisor(spec)
    except InvalidSpec as exc:
        raise BadTarget(f"{target}: {exc}") from exc
    return spec


def _build(target: str, found: Any, settings: Sequence[str]) -> Supervisor:
    if isinstance(found, Supervisor):
        if settings:
            raise BadTarget(f"{target} is a Supervisor spec: --set needs a callable returning one")
        return found
    if not callable(found):
        raise BadTarget(
            f"{target} is a {type(found).__name__}, not a Supervisor spec or a callable "
            "returning one"
        )
    kwargs = _keywords(target, found, settings)
    try:
        spec = found(**kwargs)
    except Exception as exc:
        raise BadTarget(f"{target}(...) raised {_describe(exc)}") from exc
    if not isinstance(spec, Supervisor):
        raise BadTarget(f"{target}(...) returned a {type(spec).__name__}, not a Supervisor spec")
    return spec


def _keywords(target: str, function: Callable[..., Any], settings: Sequence[str]) -> dict[str, Any]:
    signature = inspect.signature(function)
    try:
        hints = typing.get_type_hints(function)
    except Exception:
        hints = {}
    accepted = {
        name: hints.get(name, str)
        for name, parameter in signature.parameters.items()
        if parameter.kind in (parameter.KEYWORD_ONLY, parameter.POSITIONAL_OR_KEYWORD)
    }
    kwargs: dict[str, Any] = {}
    for setting in settings:
        key, equals, text = setting.partition("=")
        if not equals or not key:
            raise BadTarget(f"--set {setting!r}: expected key=value")
        if key not in accepted:
            names = ", ".join(accepted) or "none"
            raise BadTarget(f"--set {key}: {target} takes no {key!r} (it takes: {names})")
        try:
            kwargs[key] = _convert(text, accepted[key])
        except ValueError as exc:
            raise BadTarget(f"--set {key}={text}: {exc}") from None
    return kwargs


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _convert(text: str, kind: Any) -> Any:
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        choices = [arg for arg in typing.get_args(kind) if arg is not type(None)]
        if text.lower() in ("", "none") and len(choices) < len(typing.get_args(kind)):
            return None
        if len(choices) == 1:
            return _convert(text, choices[0])
        raise ValueError(f"cannot convert to {kind}")
    if kind is bool:
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ValueError("not a boolean (true/false, yes/no, 1/0)")
    if kind in (str, Any):
        return text
    if kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            raise ValueError(f"not a valid {kind.__name__}") from None
    if kind is Path:
        return Path(text)
    raise ValueError(f"cannot convert a string to {kind}")


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
