"""msgpack with hard limits and a registry of ext types.

Everything that crosses a process boundary or reaches disk goes through a
:class:`Codec`. Values are msgpack's own (``None``, ``bool``, ``int``, ``float``,
``str``, ``bytes``, ``list``, ``dict`` with ``str``/``bytes`` keys), plus tuples
(which arrive as tuples) and the types registered in an :class:`ExtRegistry`.
The sender checks everything the receiver would reject, so an unencodable value
fails where it can be named: at the sender, before anything was sent.

>>> codec = Codec()
>>> codec.decode(codec.encode({"point": (1, 2)}))
{'point': (1, 2)}

This module is stdlib-only apart from msgpack: a worker imports it before it
imports anything of its job.
"""

from __future__ import annotations

from . import _msgpack
from ._exceptions import DecodeError, EncodeError

# Workers import this module before anything else, so it stays off ``typing``
# and ``dataclasses`` (about 40 ms of imports) at run time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, Final

MiB: Final = 1024 * 1024
TUPLE_CODE: Final = 0
#: Ints outside msgpack's 64-bit range: two's-complement bytes, big-endian.
BIGINT_CODE: Final = 1
#: Ext codes below this are reserved for letitcrash itself.
FIRST_USER_CODE: Final = 32

_SCALARS: Final[frozenset[type]] = frozenset({type(None), bool, float})
_INT_MIN: Final = -(2**63)
_INT_MAX: Final = 2**64 - 1
_PLAIN_KINDS: Final[frozenset[type]] = _SCALARS | {int, str, bytes}
_LIMIT_FIELDS: Final = ("frame", "string", "container", "depth")


class Limits:
    """What one message may hold. The receiver rejects more; the sender never sends it.

    ``frame`` bounds a whole encoded message, ``string`` one ``str`` or ``bytes``,
    ``container`` the items of one list, tuple or dict, ``depth`` the nesting.
    Immutable.
    """

    __slots__ = _LIMIT_FIELDS
    frame: int
    string: int
    container: int
    depth: int

    def __init__(
        self,
        *,
        frame: int = 16 * MiB,
        string: int = 16 * MiB,
        container: int = 1_000_000,
        depth: int = 64,
    ) -> None:
        for field, value in zip(_LIMIT_FIELDS, (frame, string, container, depth), strict=True):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"Limits.{field} must be a positive int, not {value!r}")
            object.__setattr__(self, field, value)
        if depth > 500:
            raise ValueError(f"Limits.depth is at most 500 (msgpack's own stack), not {depth}")

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Limits is immutable")

    def __repr__(self) -> str:
        fields = ", ".join(f"{f}={getattr(self, f)!r}" for f in _LIMIT_FIELDS)
        return f"Limits({fields})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Limits):
            return NotImplemented
        return all(getattr(self, f) == getattr(other, f) for f in _LIMIT_FIELDS)

    def __hash__(self) -> int:
        return hash(tuple(getattr(self, f) for f in _LIMIT_FIELDS))


class ExtCodec:
    """How one Python type travels as a msgpack ext type.

    ``to_wire`` turns an instance into an encodable value (itself encoded by the
    same codec, so it may hold tuples and other registered types); ``from_wire``
    rebuilds the instance from that value.
    """

    __slots__ = ("cls", "code", "from_wire", "to_wire")

    def __init__(
        self,
        code: int,
        cls: type,
        to_wire: Callable[[Any], object],
        from_wire: Callable[[Any], object],
    ) -> None:
        self.code = code
        self.cls = cls
        self.to_wire = to_wire
        self.from_wire = from_wire

    def __repr__(self) -> str:
        return f"ExtCodec({self.code}, {self.cls.__qualname__})"


class ExtRegistry:
    """The ext types one codec knows. Codes 0-31 are letitcrash's; users take 32-127.

    >>> from fractions import Fraction
    >>> registry = ExtRegistry()
    >>> registry.register(ExtCodec(40, Fraction, lambda f: (f.numerator, f.denominator),
    ...                            lambda t: Fraction(*t)))
    >>> Codec(registry=registry).decode(Codec(registry=registry).encode(Fraction(1, 3)))
    Fraction(1, 3)
    """

    def __init__(self) -> None:
        self._by_code: dict[int, ExtCodec] = {}
        self._by_type: dict[type, ExtCodec] = {}

    def register(self, ext: ExtCodec) -> None:
        """Add ``ext``; its code and its exact type must both be new here."""
        if not BIGINT_CODE < ext.code <= 127:
            raise ValueError(
                f"ext code must be in 2..127 (0 and 1 carry tuples and big ints), not {ext.code}"
            )
        if ext.code in self._by_code:
            taken = self._by_code[ext.code].cls.__qualname__
            raise ValueError(f"ext code {ext.code} is already taken by {taken}")
        if ext.cls in self._by_type or ext.cls in (tuple, list, dict, str, bytes, int):
            raise ValueError(f"{ext.cls.__qualname__} already has an encoding")
        self._by_code[ext.code] = ext
        self._by_type[ext.cls] = ext

    def copy(self) -> ExtRegistry:
        """A registry with the same entries, to extend without touching this one."""
        other = ExtRegistry()
        other._by_code = dict(self._by_code)
        other._by_type = dict(self._by_type)
        return other

    def by_type(self, cls: type) -> ExtCodec | None:
        return self._by_type.get(cls)

    def by_code(self, code: int) -> ExtCodec | None:
        return self._by_code.get(code)


class _Reject(Exception):
    """Internal: the reason a value cannot be encoded, and the path to it (innermost first)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        self.path: list[object] = []


class Codec:
    """Encode and decode one message at a time, under :class:`Limits`.

    Thread-safe: it holds no state that changes after construction.
    """

    def __init__(self, *, limits: Limits | None = None, registry: ExtRegistry | None = None):
        self.limits = limits if limits is not None else Limits()
        self.registry = registry if registry is not None else ExtRegistry()
        limits = self.limits
        # One unpacker per ext nesting level, each with the hook of its level.
        self._unpackers = [
            _msgpack.unpacker(
                self._make_hook(level),
                max_str_len=limits.string,
                max_bin_len=limits.string,
                max_array_len=limits.container,
                max_map_len=limits.container,
                max_ext_len=limits.frame,
            )
            for level in range(limits.depth + 2)
        ]
        # Strings over the limit are caught by the frame check when that is no larger.
        self._check_strings = self.limits.string < self.limits.frame
        # Plain lists leave their ints to msgpack, which raises OverflowError past
        # 64 bits; the value is then walked again with every int checked.
        self._exact_ints = False
        self._exact: Codec | None = None

    # -- encoding -----------------------------------------------------------

    def encode(self, value: object, *, what: str | None = None) -> bytes:
        """The bytes of ``value``; raises :class:`EncodeError` naming what is wrong.

        ``what`` names the value in the error (``"the result of work.f"``).

        >>> Codec().encode([1, {2}], what="the result of work.f")
        Traceback (most recent call last):
        ...
        spawn._exceptions.EncodeError: the result of work.f cannot be sent: at [1], a set is not encodable (send a list or tuple instead)
        """  # noqa: E501
        try:
            try:
                data = _msgpack.packb(self._prepare(value, 0))
            except OverflowError:
                data = _msgpack.packb(self._exact_codec()._prepare(value, 0))
        except _Reject as rejected:
            path = tuple(reversed(rejected.path))
            raise EncodeError.describe(rejected.reason, path, what) from None
        if len(data) > self.limits.frame:
            raise EncodeError.describe(
                f"encoded message is {len(data):,} bytes, over the frame limit of "
                f"{self.limits.frame:,} bytes",
                (),
                what,
            )
        return data

    def _exact_codec(self) -> Codec:
        if self._exact is None:
            exact = Codec(limits=self.limits, registry=self.registry)
            exact._exact_ints = True
            self._exact = exact
        return self._exact

    def _prepare(self, value: object, depth: int) -> object:
        """``value`` made of msgpack's own types and ExtType, checked against the limits.

        Returns ``value`` itself when nothing in it needs converting.
        """
        cls = type(value)
        if cls in _SCALARS:
            return value
        if cls is int:
            if _INT_MIN <= value <= _INT_MAX:  # type: ignore[operator]
                return value
            return self._bigint(value)  # type: ignore[arg-type]
        if cls is str or cls is bytes:
            if len(value) > self.limits.string:  # type: ignore[arg-type]
                raise _Reject(
                    f"{cls.__name__} of length {len(value):,} is over the limit of "  # type: ignore[arg-type]
                    f"{self.limits.string:,}"
                )
            return value
        if depth >= self.limits.depth:
            raise _Reject(f"nesting deeper than the limit of {self.limits.depth}")
        if cls is list or cls is tuple:
            items: list[Any] | tuple[Any, ...] = value  # type: ignore[assignment]
            if len(items) > self.limits.container:
                self._check_size(len(items))  # raises
            kinds = set(map(type, items))
            if kinds <= _PLAIN_KINDS and not self._check_strings and not self._exact_ints:
                out = items if cls is list else list(items)  # self._plain, inline: the usual case
            else:
                out = self._prepare_items(items, depth + 1)
            if cls is tuple:
                return _msgpack.ext((TUPLE_CODE, _msgpack.packb(out)))
            return out
        if cls is dict:
            return self._prepare_map(value, depth + 1)  # type: ignore[arg-type]
        ext = self.registry.by_type(cls)
        if ext is not None:
            try:
                wire = ext.to_wire(value)
            except _Reject:
                raise
            except Exception as exc:
                raise _Reject(f"{cls.__qualname__} failed to convert: {exc!r}") from exc
            return _msgpack.ExtType(ext.code, _msgpack.packb(self._prepare(wire, depth + 1)))
        raise _Reject(f"{_a(_type_name(cls))} is not encodable{_hint(value)}")

    def _bigint(self, value: int) -> object:
        size = (value.bit_length() + 8) // 8  # room for the sign bit
        if size > self.limits.string:
            raise _Reject(f"int of {size:,} bytes is over the limit of {self.limits.string:,}")
        return _msgpack.ExtType(BIGINT_CODE, value.to_bytes(size, "big", signed=True))

    def _plain(self, items: list[Any] | tuple[Any, ...]) -> bool:
        """Whether ``items`` are scalars msgpack packs as they are, checked at C speed.

        A False only means "walk them one by one", which also names any problem.
        """
        kinds = set(map(type, items))
        if not kinds <= _PLAIN_KINDS or (self._exact_ints and int in kinds):
            return False
        if self._check_strings:
            for text in (str, bytes):
                if text in kinds:
                    strings = items if len(kinds) == 1 else [x for x in items if type(x) is text]
                    if max(map(len, strings)) > self.limits.string:
                        return False
        return True

    def _check_size(self, size: int) -> None:
        if size > self.limits.container:
            raise _Reject(f"{size:,} items are over the limit of {self.limits.container:,}")

    def _prepare_items(self, items: list[Any] | tuple[Any, ...], depth: int) -> list[Any]:
        if self._plain(items):
            return items if type(items) is list else list(items)
        out: list[Any] | None = None
        for index, item in enumerate(items):
            try:
                new = self._prepare(item, depth)
            except _Reject as rejected:
                rejected.path.append(index)
                raise
            if out is None:
                if new is item and type(items) is list:
                    continue
                out = list(items[:index])
            out.append(new)
        if out is None:
            return items if type(items) is list else list(items)
        return out

    def _prepare_map(self, mapping: dict[Any, Any], depth: int) -> dict[Any, Any]:
        self._check_size(len(mapping))
        out: dict[Any, Any] | None = None
        for index, (key, item) in enumerate(mapping.items()):
            key_cls = type(key)
            if key_cls is not str and key_cls is not bytes:
                raise _Reject(
                    f"map key {key!r} is {_a(_type_name(key_cls))}; map keys must be str or bytes"
                )
            try:
                new = self._prepare(item, depth)
                if len(key) > self.limits.string:
                    raise _Reject(f"map key of length {len(key):,} is over the limit")
            except _Reject as rejected:
                rejected.path.append(key)
                raise
            if out is None:
                if new is item:
                    continue
                out = dict(list(mapping.items())[:index])
            out[key] = new
        return mapping if out is None else out

    # -- decoding -----------------------------------------------------------

    def decode(self, data: bytes | bytearray | memoryview) -> object:
        """The value in ``data``; raises :class:`DecodeError` for anything malformed."""
        if len(data) > self.limits.frame:
            raise DecodeError(
                f"message of {len(data):,} bytes is over the frame limit of "
                f"{self.limits.frame:,} bytes"
            )
        try:
            return self._unpackers[0](data)
        except DecodeError:
            raise
        except _msgpack.StackError as exc:
            raise DecodeError("message is nested too deeply") from exc
        except (ValueError, TypeError, _msgpack.FormatError, _msgpack.ExtraData) as exc:
            raise DecodeError(f"malformed message: {exc}") from exc
        except RecursionError as exc:  # pragma: no cover - the hooks bound the depth first
            raise DecodeError("message is nested too deeply") from exc

    #: :meth:`decode`, by the name a channel looks for: a codec that takes any bytes-like
    #: object is given each frame in place, without a copy.
    decode_buffer = decode

    def _make_hook(self, level: int) -> Callable[[int, bytes], object]:
        def hook(code: int, payload: bytes) -> object:
            if code == BIGINT_CODE:
                return int.from_bytes(payload, "big", signed=True)
            if level > self.limits.depth:
                raise DecodeError(f"ext types nested deeper than the limit of {self.limits.depth}")
            # What it raises reaches the outermost unpack, in decode, which names it.
            inner = self._unpackers[level + 1](payload)
            if code == TUPLE_CODE:
                if type(inner) is not list:
                    raise DecodeError("tuple ext type does not hold an array")
                return tuple(inner)
            ext = self.registry.by_code(code)
            if ext is None:
                raise DecodeError(f"unknown ext code {code}")
            try:
                return ext.from_wire(inner)
            except DecodeError:
                raise
            except Exception as exc:
                raise DecodeError(
                    f"ext code {code} ({ext.cls.__qualname__}) rejected its payload: {exc!r}"
                ) from exc

        return hook


def _type_name(cls: type) -> str:
    """``set`` for a builtin, else ``module.Qualname``."""
    if cls.__module__ == "builtins":
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"


def _a(noun: str) -> str:
    """``noun`` with its indefinite article: ``a set``, ``an int``."""
    return ("an " if noun[:1].lower() in "aeiou" else "a ") + noun


def _hint(value: object) -> str:
    if isinstance(value, type):
        return " (a class cannot travel as a value)"
    if callable(value):
        return " (functions travel by reference: pass the module-level function, not a value)"
    if hasattr(value, "fileno"):
        return " (files, sockets and other OS resources cannot cross a process boundary)"
    if isinstance(value, (set, frozenset)):
        return " (send a list or tuple instead)"
    return ""
