"""The one typed doorway to msgpack, which ships no type information."""

from __future__ import annotations

import _functools  # type: ignore[import-not-found]  # no stub: C, as _thread
import _thread

import msgpack

TYPE_CHECKING = False  # typing costs a function worker 12 ms; mypy reads this name as usual
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, Final

ExtType: Final[Any] = msgpack.ExtType
StackError: Final[type[Exception]] = msgpack.StackError
ExtraData: Final[type[Exception]] = msgpack.ExtraData
FormatError: Final[type[Exception]] = msgpack.FormatError
#: ``ext((code, data))`` is ``ExtType(code, data)`` for a code and bytes known good, made
#: in C (``ExtType``'s own constructor checks its arguments in two Python frames).
#: (``_functools.partial`` is ``functools.partial`` without importing ``functools``.)
ext: Final[Callable[[tuple[int, bytes]], Any]] = _functools.partial(tuple.__new__, ExtType)


# One packer per thread: making one per message costs more than packing a small one.
# (``_thread._local`` is ``threading.local`` without importing ``threading``.)
_local = _thread._local()


def packb(value: object) -> bytes:
    """Pack a value made only of msgpack's own types and :data:`ExtType`."""
    try:
        packer = _local.packer
    except AttributeError:
        packer = _local.packer = msgpack.Packer(
            strict_types=True, use_bin_type=True, datetime=False
        )
    out: bytes = packer.pack(value)  # resets itself when it raises
    return out


def unpacker(
    ext_hook: Callable[[int, bytes], object],
    *,
    max_str_len: int,
    max_bin_len: int,
    max_array_len: int,
    max_map_len: int,
    max_ext_len: int,
) -> Callable[[bytes | bytearray | memoryview], object]:
    """``unpack(data)``: one complete value, with these settings; raises msgpack's own errors
    (caught by the codec). A partial of msgpack's C function: no Python frame per value."""
    unpack: Callable[[bytes | bytearray | memoryview], object] = _functools.partial(
        msgpack.unpackb,
        ext_hook=ext_hook,
        raw=False,
        use_list=True,
        strict_map_key=True,
        timestamp=0,
        max_str_len=max_str_len,
        max_bin_len=max_bin_len,
        max_array_len=max_array_len,
        max_map_len=max_map_len,
        max_ext_len=max_ext_len,
    )
    return unpack
