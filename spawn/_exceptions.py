"""The exceptions of the process layer; every one derives from :class:`SpawnError`.

This module is stdlib-only: a worker imports it before its ``sys.path`` is set.
"""

from __future__ import annotations


class SpawnError(Exception):
    """Base of every error raised by :mod:`spawn`."""


class CodecError(SpawnError):
    """Base of the codec's errors: a value could not cross a process boundary."""


class EncodeError(CodecError, TypeError):
    """Raised at the sender when a value cannot be encoded.

    The message names what the value was (``the argument 2 of work.f``, ``the
    reply of Counter.handle_call``) when the sender knows it, the offending type
    or limit, and where in the value it sits (``at [2]['key']``). Nothing was
    sent. It is also a :class:`TypeError`, as :func:`json.dumps` would raise for
    the same value. ``reason`` is the problem alone, ``path`` the keys and
    indexes from the value down to it.
    """

    def __init__(
        self, message: str, *, reason: str | None = None, path: tuple[object, ...] = ()
    ) -> None:
        super().__init__(message)
        self.reason = message if reason is None else reason
        self.path = path

    @classmethod
    def describe(
        cls, reason: str, path: tuple[object, ...] = (), what: str | None = None
    ) -> EncodeError:
        """The error for ``reason`` at ``path`` in a value; ``what`` names the value."""
        shown = [f"[{key!r}]" for key in path]
        if len(shown) > 8:
            shown = [*shown[:4], "...", *shown[-3:]]
        where = "".join(shown)
        if what is None:
            message = f"cannot encode value{where}: {reason}"
        else:
            message = f"{what} cannot be sent: " + (f"at {where}, " if where else "") + reason
        return cls(message, reason=reason, path=path)

    def naming(self, what: str, skip: int = 0) -> EncodeError:
        """This error, told of ``what``: the value found ``skip`` keys down the one encoded.

        A caller that wrapped the user's value in an envelope of its own names it
        here, so that the message shows no index into the envelope.
        """
        return EncodeError.describe(self.reason, self.path[skip:], what)


class DecodeError(CodecError, ValueError):
    """Raised at the receiver when bytes are not a valid message.

    Malformed msgpack, a truncated frame, an unknown ext code, a map key that is
    not ``str`` or ``bytes``, nesting or a container over the configured limits.
    """


class ProtocolError(SpawnError):
    """Raised by a channel when the bytes from its peer break the framing or the codec.

    A length prefix over the frame limit (:class:`FrameTooLarge`), a frame cut off by
    end of file, bytes that do not decode, or a reply that does not fit the
    protocol. The channel is broken afterwards; the pool treats the worker as
    crashed. The decoding error, if any, is ``__cause__``.
    """


class FrameTooLarge(ProtocolError):
    """Raised by a channel when a length prefix announces more than the frame limit.

    Checked on the 4-byte prefix alone, before any buffer is allocated.
    """


class WorkerStartError(SpawnError):
    """Raised when a worker could not be started or did not complete its handshake.

    ``posix_spawn`` failed (the OS error is ``__cause__``), the handshake timed
    out or was malformed, or the worker could not import its entry or preload
    modules (the worker's traceback text is in the message).
    """


class WorkerDied(SpawnError):
    """Raised by ``pool.run`` when the worker running the call died before it answered.

    Only that call fails; the pool replaces the worker. ``pid`` and ``returncode``
    (negative: the signal number) describe the worker; a protocol error that made
    the pool kill the worker is ``__cause__``.
    """

    def __init__(self, message: str, *, pid: int, returncode: int | None) -> None:
        super().__init__(message)
        self.pid = pid
        self.returncode = returncode


class RemoteTraceback(Exception):
    """The traceback text of an exception raised in a worker, as a link of a cause chain.

    A :class:`RemoteError` has one as its ``__cause__``, so that the remote
    traceback prints above the local one, as the stdlib's process pool prints it.
    """

    def __init__(self, tb: str) -> None:
        super().__init__(tb)
        self.tb = tb

    def __str__(self) -> str:
        return f'\n"""\n{self.tb.rstrip()}\n"""'


class RemoteError(SpawnError):
    """An exception raised in a worker, boxed: type name, message, traceback text, pid.

    ``pool.run`` raises it for exception types it does not rebuild; an exception of
    a built-in type is rebuilt as itself with this box as its ``__cause__``.
    ``str()`` is ``"type_name: message"``; the remote traceback is
    :attr:`traceback`, and a :class:`RemoteTraceback` is this error's ``__cause__``,
    so it prints with the local traceback.
    """

    def __init__(self, type_name: str, message: str, traceback: str, pid: int) -> None:
        super().__init__(type_name, message, traceback, pid)
        self.type_name = type_name
        self.message = message
        self.traceback = traceback
        self.pid = pid
        if traceback:
            self.__cause__ = RemoteTraceback(traceback)

    def __str__(self) -> str:
        return f"{self.type_name}: {self.message}"


class NotByReference(SpawnError, TypeError):
    """Raised by ``pool.run`` at submit time when a function cannot travel by reference.

    Workers import a function by module and qualified name, so lambdas, local
    functions, bound methods and functions defined in ``__main__`` of a script run
    by path cannot be sent. The message names the fix. It is also a
    :class:`TypeError`: nothing was sent.
    """


class PoolClosed(SpawnError):
    """Raised by ``pool.run`` and ``pool.lease`` once the pool is closing or closed."""


class InitializerError(SpawnError):
    """Raised by ``pool.run`` when the pool's initializer failed in the worker taking the call.

    The message carries the initializer's error and traceback. The worker exits and
    is replaced; the next worker runs the initializer again.
    """
