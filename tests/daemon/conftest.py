"""Every daemon test leaves this process as it found it: no child (the daemon, a wrapper or a
client command reaped), no fd changed (its pipes closed). What the daemon itself leaves behind
is the subreaper wrapper's to count (tests/daemon/support.py)."""

from __future__ import annotations

import pytest

from tests.leaks import LeakCheck


@pytest.fixture(autouse=True)
def _no_leaks(leaks: LeakCheck) -> LeakCheck:
    return leaks
