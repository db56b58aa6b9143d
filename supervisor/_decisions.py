"""Whether an exited child is restarted: a table of restart type x exit reason.

>>> from actors import NORMAL, SHUTDOWN, Crash
>>> [should_restart(r, NORMAL) for r in Restart]
[True, False, False]
>>> [should_restart(r, Crash(ValueError())) for r in Restart]
[True, True, False]
"""

from __future__ import annotations

from actors import ExitReason, is_abnormal

from ._spec import Restart


def should_restart(restart: Restart, reason: ExitReason) -> bool:
    """OTP's do_restart: permanent always, transient after an abnormal exit, temporary never."""
    match restart:
        case Restart.PERMANENT:
            return True
        case Restart.TRANSIENT:
            return is_abnormal(reason)
        case Restart.TEMPORARY:
            return False
