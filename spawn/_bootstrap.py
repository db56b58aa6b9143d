"""The first code a worker runs: ``python -I -S .../spawn/_bootstrap.py``.

It is run as a file, not imported, and uses only builtin modules until the
parent's ``sys.path`` has arrived, so a worker pays for nothing it does not
need. Its steps, in order:

1. catch SIGINT with a handler that does nothing (the parent owns shutdown; a
   Ctrl-C in a terminal reaches the parent, which stops its workers through their
   channels and SIGTERM). A handler, not ``SIG_IGN``: an ignored signal stays
   ignored across ``exec``, a handled one is reset to its default, so a program
   the worker starts can still be interrupted. Then make the channel's fd
   non-inheritable, so that no program the worker starts holds it;
2. read the init frame (marshal; version, nonce, parent pid, ``sys.path``, cwd,
   resource limits, preload and entry modules, the entry's config) from fd 3;
3. change to the cwd and apply the resource limits, before any user code;
4. arm the parent-death signal (SIGKILL), then compare ``os.getppid()`` with
   the parent pid it was given, and exit if the parent is already gone;
5. install the parent's ``sys.path`` and answer the handshake (version, pid,
   and the nonce, which only ever travels over the inherited fd);
6. import the preload modules and the entry module, then report ready (or the
   import error's traceback) and call ``entry.main(fd, config)``, whose return
   value is the exit status. The entry must exit when its channel reaches EOF.

The wire format here is private to this file and ``spawn._worker``.

Run as ``_bootstrap.py exec PPID CWD CTYPE PATH ARGV...`` it is instead the exec
shim of an external program (see ``SpawnTemplate.program``): it resets SIGPIPE
and SIGXFSZ (which Python ignores, and an ignored signal survives ``exec``) to
their defaults, arms the parent-death signal unless PPID is 0, exits if its
parent is not PPID, changes to CWD unless it is empty, puts back the LC_CTYPE
that Python's locale coercion changed (CTYPE is ``=value``, or ``-`` for none),
and calls ``execve`` on PATH with ARGV and its environment.
"""

import marshal
import os
import sys

FD = 3
VERSION = 1
MAX_INIT = 1 << 20
HELLO = b"LCW"
READY = b"READY"
ERROR = b"ERROR"
PR_SET_PDEATHSIG = 1
SIGKILL = 9
EXIT_PROTOCOL = 70
EXIT_ORPHAN = 71
EXIT_IMPORT = 72
EXIT_EXEC = 127


def read_exact(n: int) -> bytes:
    chunks = []
    while n:
        chunk = os.read(FD, n)
        if not chunk:
            os._exit(EXIT_PROTOCOL)
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def write_frame(payload: bytes) -> None:
    data = len(payload).to_bytes(4, "big") + payload
    while data:
        data = data[os.write(FD, data) :]


def arm_parent_death_signal() -> bool:
    """prctl(PR_SET_PDEATHSIG, SIGKILL) through _ctypes (ctypes costs 5 ms more)."""
    try:
        import _ctypes

        class Int(_ctypes._SimpleCData):  # type: ignore[type-arg]
            _type_ = "i"

        class Function(_ctypes.CFuncPtr):
            _flags_ = _ctypes.FUNCFLAG_CDECL
            _restype_ = Int

        class Libc:
            _handle = _ctypes.dlopen(None, os.RTLD_NOW)  # type: ignore[arg-type]

        prctl = Function(("prctl", Libc()))  # type: ignore[arg-type]
    except Exception:  # pragma: no cover - an interpreter without the private _ctypes API
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl  # type: ignore[assignment]
    return bool(prctl(PR_SET_PDEATHSIG, SIGKILL) == 0)


def on_sigint(signum: int, frame: object) -> None:
    """A stray SIGINT does nothing here (the parent stops workers); see step 1."""


def main() -> int:
    import _signal  # type: ignore[import-not-found]

    _signal.signal(_signal.SIGINT, on_sigint)
    # The channel stays ours: a program the worker starts must not hold it open, or
    # the parent would never see end of file when this process dies.
    os.set_inheritable(FD, False)
    size = int.from_bytes(read_exact(4), "big")
    if size > MAX_INIT:
        os._exit(EXIT_PROTOCOL)
    init = marshal.loads(read_exact(size))
    if init["version"] != VERSION:
        os._exit(EXIT_PROTOCOL)
    if init["cwd"] is not None:
        os.chdir(init["cwd"])
    if init["rlimits"]:
        import resource

        for which, soft, hard in init["rlimits"]:
            resource.setrlimit(which, (soft, hard))
    arm_parent_death_signal()
    if os.getppid() != init["ppid"]:
        os._exit(EXIT_ORPHAN)
    sys.path[:] = init["path"]
    write_frame(HELLO + bytes([VERSION]) + os.getpid().to_bytes(4, "big") + init["nonce"])
    try:
        for name in init["preload"]:
            __import__(name)
        __import__(init["entry"])
        entry = sys.modules[init["entry"]]
        serve = entry.main
    except BaseException:
        import traceback

        write_frame(ERROR + traceback.format_exc().encode("utf-8", "replace"))
        os._exit(EXIT_IMPORT)
    write_frame(READY)
    return int(serve(FD, init["config"]) or 0)


def exec_program(args: list[str]) -> int:
    """The exec shim of a program child (see the module's docstring); returns on failure."""
    import _signal

    ppid, cwd, ctype, path, *argv = args
    for name in ("SIGPIPE", "SIGXFSZ"):
        _signal.signal(getattr(_signal, name), _signal.SIG_DFL)
    if ppid != "0":
        if not arm_parent_death_signal():
            os.write(2, b"letitcrash: prctl(PR_SET_PDEATHSIG) failed\n")
            return EXIT_EXEC
        if os.getppid() != int(ppid):
            os._exit(EXIT_ORPHAN)
    env = dict(os.environb)
    if ctype == "-":
        env.pop(b"LC_CTYPE", None)
    else:
        env[b"LC_CTYPE"] = os.fsencode(ctype[1:])
    try:
        if cwd:
            os.chdir(cwd)
        os.execve(path, argv, env)
    except OSError as exc:
        where = f" in {cwd}" if cwd else ""
        os.write(2, f"letitcrash: cannot start {path}{where}: {exc}\n".encode(errors="replace"))
    return EXIT_EXEC


if __name__ == "__main__":
    if sys.argv[1:2] == ["exec"]:
        sys.exit(exec_program(sys.argv[2:]))
    sys.exit(main())
