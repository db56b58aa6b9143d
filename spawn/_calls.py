"""Calls by reference: name a function for a worker, and rebuild what comes back.

>>> import math
>>> function_ref(math.sqrt)
('math', 'sqrt')
>>> function_ref(lambda: 0)  # doctest: +IGNORE_EXCEPTION_DETAIL
Traceback (most recent call last):
  ...
spawn._exceptions.NotByReference: <lambda> is a lambda
"""

from __future__ import annotations

import builtins
import pickle
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, Literal

from . import _exceptions
from ._exceptions import EncodeError, ProtocolError, RemoteError

if TYPE_CHECKING:
    from ._channel import Coder

CodecName = Literal["msgpack", "pickle"]

#: How many functions a :class:`FunctionRefs` remembers before it starts afresh.
REF_CACHE: Final = 1024

_FIX: Final = (
    "workers import functions by module and qualified name: define it at module level "
    "in an importable module"
)


def function_ref(fn: Callable[..., object], *, script_main: bool = False) -> tuple[str, str]:
    """The ``(module, qualname)`` a worker imports ``fn`` by; :class:`NotByReference` if none.

    A function in ``__main__`` of a program run with ``python -m pkg.mod`` travels
    as ``pkg.mod``; one in a script run by path cannot travel at all, unless
    ``script_main``: then it travels as ``__main__``, which a function worker
    answers with the parent's script run as ``__mp_main__`` (as the Executor does).
    """
    module = getattr(fn, "__module__", None)
    qualname = getattr(fn, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(qualname, str):
        raise _exceptions.NotByReference(f"{fn!r} has no module and qualified name; {_FIX}")
    if "<lambda>" in qualname:
        raise _exceptions.NotByReference(f"{qualname} is a lambda: {_FIX}")
    if "<locals>" in qualname:
        kind = "class" if isinstance(fn, type) else "function"
        raise _exceptions.NotByReference(f"{qualname} is a local {kind}: {_FIX}")
    home = sys.modules.get(module)  # where the identity check looks fn up
    if module == "__main__":
        spec = getattr(sys.modules.get("__main__"), "__spec__", None)
        name = getattr(spec, "name", None)
        if (not isinstance(name, str) or name == "__main__") and script_main:
            name = "__main__"
        elif not isinstance(name, str) or name == "__main__":
            raise _exceptions.NotByReference(
                f"{qualname} is defined in __main__ of a script run by path, which a worker "
                f"cannot import: move it into a module next to the script and import it from "
                f"there (or run the program with python -m)"
            )
        module = name  # the worker imports it under its real name
    found: object = home
    for part in qualname.split("."):
        found = getattr(found, part, None)
    if found is not fn:
        raise _exceptions.NotByReference(
            f"{module}.{qualname} does not name {fn!r} (a bound method, or a function "
            f"replaced by a decorator?): {_FIX}"
        )
    return module, qualname


def describe(fn: Callable[..., object]) -> tuple[str, str]:
    """A module and a name to call ``fn`` by in messages, where it travels by value.

    >>> import functools
    >>> describe(functools.partial(max, 1))[1]
    'functools.partial(<built-in function max>, 1)'
    """
    module = getattr(fn, "__module__", None)
    qualname = getattr(fn, "__qualname__", None)
    if isinstance(module, str) and isinstance(qualname, str):
        return module, qualname
    return "", repr(fn)


class FunctionRefs:
    """:func:`function_ref` with a memory: at most :data:`REF_CACHE` functions, then afresh.

    An unhashable callable is not remembered; :func:`function_ref` says why it
    cannot travel.

    >>> import math
    >>> refs = FunctionRefs()
    >>> refs.get(math.sqrt)
    ('math', 'sqrt')
    """

    __slots__ = ("_refs", "_script_main")

    def __init__(self, *, script_main: bool = False) -> None:
        self._refs: dict[Callable[..., object], tuple[str, str]] = {}
        self._script_main = script_main

    def get(self, fn: Callable[..., object]) -> tuple[str, str]:
        """The ``(module, qualname)`` of ``fn``; :class:`NotByReference` if it has none."""
        try:
            ref = self._refs.get(fn)
        except TypeError:  # unhashable: function_ref says why it cannot travel
            return function_ref(fn, script_main=self._script_main)
        if ref is None:
            ref = function_ref(fn, script_main=self._script_main)
            if len(self._refs) >= REF_CACHE:
                self._refs.clear()
            self._refs[fn] = ref
        return ref


def encode_call(
    seq: int,
    ref: tuple[str, str],
    args: tuple[object, ...],
    kwargs: dict[str, Any],
    codec: str,
    *,
    fn: Callable[..., object] | None = None,
    notify: bool = False,
) -> list[object]:
    """The request a function worker expects (see :mod:`spawn._fnworker`).

    With the pickle codec and ``fn`` given, the function travels by value, inside
    the pickle, and ``ref`` only names it. ``notify`` asks for start notices.
    """
    module: str | None = ref[0]
    if codec == "pickle" and fn is not None:
        module = None
        payload: object = pickle.dumps((fn, args, kwargs), protocol=pickle.HIGHEST_PROTOCOL)
    elif codec == "pickle":
        payload = pickle.dumps((args, kwargs), protocol=pickle.HIGHEST_PROTOCOL)
    else:
        payload = [list(args), kwargs]
    if notify:
        return [seq, module, ref[1], payload, True]
    return [seq, module, ref[1], payload]


#: The function ``Executor.map`` runs for a chunk: ``run_chunk(module, qualname, columns)``.
CHUNK_REF: Final = ("spawn._fnworker", "run_chunk")


def encode_request(
    coder: Coder,
    seq: int,
    ref: tuple[str, str],
    args: tuple[object, ...],
    kwargs: dict[str, Any],
    codec: str,
    *,
    fn: Callable[..., object] | None = None,
    notify: bool = False,
) -> bytes:
    """The encoded request for ``ref(*args, **kwargs)`` (``fn`` and ``notify`` as for
    :func:`encode_call`).

    An :class:`~spawn.EncodeError` names what the user sent (``the argument 2 of
    work.f``), not its place in the request.
    """
    request = encode_call(seq, ref, args, kwargs, codec, fn=fn, notify=notify)
    try:
        return coder.encode(request)
    except EncodeError as exc:
        raise _name_argument(exc, ref, args) from exc


def _name_argument(exc: EncodeError, ref: tuple[str, str], args: tuple[object, ...]) -> EncodeError:
    path = exc.path  # into [seq, module, qualname, [args, kwargs]]
    if path[:2] == (3, 0) and len(path) > 2 and isinstance(path[2], int):
        if ref == CHUNK_REF and path[2] == 2 and len(path) > 4 and isinstance(path[3], int):
            # Executor.map: the columns of arguments of the function args[0].args[1]
            return exc.naming(f"the argument {path[3] + 1} of {args[0]}.{args[1]}", 5)
        return exc.naming(f"the argument {path[2] + 1} of {ref[0]}.{ref[1]}", 3)
    if path[:2] == (3, 1) and len(path) > 2:
        return exc.naming(f"the keyword argument {path[2]} of {ref[0]}.{ref[1]}", 3)
    return exc.naming(f"the call of {ref[0]}.{ref[1]}", len(path))


def parse_reply(reply: object, seq: int) -> tuple[bool, object]:
    """``(ok, value)`` from a function worker's reply to request ``seq``.

    Raises :class:`ProtocolError` if the reply does not fit the protocol.
    """
    if type(reply) is not list or len(reply) != 3 or reply[0] != seq or type(reply[1]) is not bool:
        raise ProtocolError(f"reply does not answer request {seq}: {reply!r:.200}")
    return reply[1], reply[2]


def decode_reply(parsed: tuple[bool, object], codec: str) -> object:
    """The result of a parsed reply, or raise the remote error it carries."""
    ok, value = parsed
    if ok:
        if codec == "pickle":
            if type(value) is not bytes:
                raise ProtocolError("pickle codec reply does not hold bytes")
            return pickle.loads(value)
        return value
    raise rebuild_error(value, codec)


def rebuild_error(box: object, codec: str, *, base: bool = False) -> BaseException:
    """A boxed remote exception as the caller sees it.

    An :class:`Exception` of a built-in type (or of :mod:`spawn`) is rebuilt as
    itself from its arguments, with the :class:`RemoteError` as ``__cause__``;
    with the pickle codec any exception that unpickles is. Others stay boxed.
    With ``base``, so are :class:`BaseException` types such as :class:`SystemExit`.
    """
    if type(box) is not list or len(box) not in (6, 7):
        raise ProtocolError(f"malformed error box: {box!r:.200}")
    type_name, message, traceback, pid, args, pickled = box[:6]
    if not (isinstance(type_name, str) and isinstance(message, str)):
        raise ProtocolError(f"malformed error box: {box!r:.200}")
    remote = RemoteError(type_name, message, str(traceback), pid if isinstance(pid, int) else 0)
    rebuilt: BaseException | None = None
    if codec == "pickle" and isinstance(pickled, bytes):
        try:
            candidate = pickle.loads(pickled)
        except Exception:
            candidate = None
        if isinstance(candidate, BaseException if base else Exception):
            rebuilt = candidate
    if rebuilt is None:
        rebuilt = _rebuild_known(type_name, message, args, base)
    if rebuilt is None:
        return remote
    rebuilt.__cause__ = remote
    return rebuilt


def _rebuild_known(type_name: str, message: str, args: object, base: bool) -> BaseException | None:
    module, _, name = type_name.rpartition(".")
    source = {"builtins": builtins, "spawn._exceptions": _exceptions}.get(module)
    cls = getattr(source, name, None)
    if not (isinstance(cls, type) and issubclass(cls, BaseException if base else Exception)):
        return None
    try:
        return cls(*args) if isinstance(args, list) else cls(message)
    except Exception:
        try:
            return cls(message)
        except Exception:
            return None
