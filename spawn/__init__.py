"""The OS process layer: codec, spawn templates, workers, channel, pool."""

from ._codec import Codec as Codec
from ._codec import ExtCodec as ExtCodec
from ._codec import ExtRegistry as ExtRegistry
from ._codec import Limits as Limits
from ._exceptions import CodecError as CodecError
from ._exceptions import DecodeError as DecodeError
from ._exceptions import EncodeError as EncodeError
from ._exceptions import RemoteError as RemoteError
from ._exceptions import SpawnError as SpawnError

__all__ = [
    "Codec",
    "CodecError",
    "DecodeError",
    "EncodeError",
    "ExtCodec",
    "ExtRegistry",
    "Limits",
    "RemoteError",
    "SpawnError",
]
