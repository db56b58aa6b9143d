"""Where the daemon keeps what it owns: the state directory and the files in it.

>>> from pathlib import Path
>>> state_directory("/var/lib/kv")
PosixPath('/var/lib/kv')
>>> control_socket_path(Path("/var/lib/kv"))
PosixPath('/var/lib/kv/control/control.sock')
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def state_directory(
    option: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> Path:
    """The daemon's state directory: ``option`` (``--state-dir``) if given, else
    ``$STATE_DIRECTORY`` (set by systemd's ``StateDirectory=``; the first of a
    colon-separated list), else ``$XDG_STATE_HOME/letitcrash``, by default
    ``~/.local/state/letitcrash``. The path is made absolute, not created.
    """
    env = os.environ if environ is None else environ
    if option is not None:
        return Path(option).expanduser().absolute()
    systemd = env.get("STATE_DIRECTORY", "").split(":")[0]
    if systemd:
        return Path(systemd).absolute()
    xdg = env.get("XDG_STATE_HOME", "")
    base = Path(xdg) if xdg else Path(env.get("HOME", "~")).expanduser() / ".local" / "state"
    return (base / "letitcrash").absolute()


def control_socket_path(state_dir: Path) -> Path:
    """The control socket of the daemon whose state directory is ``state_dir``
    (its directory is made 0700 by the daemon)."""
    return state_dir / "control" / "control.sock"
