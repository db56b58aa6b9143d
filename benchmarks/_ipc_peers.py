"""Peers that need an environment of their own: tractor 0.1.0a5, run by its own interpreter.

tractor 0.1.0a5 (its last release) imports ``trio.MultiError``, which trio 0.25
removed, and it depends on a git build of pdbpp, which pip refuses from an index
package; it cannot share the project's environment (trio >= 0.30). Set one up
beside it (the project itself need not be installed there)::

    python3 -m venv .venv-peers
    .venv-peers/bin/pip install -r benchmarks/peers.txt
    .venv-peers/bin/pip install --no-deps tractor==0.1.0a5

Its rows appear when ``import tractor`` works in the interpreter named by
``LETITCRASH_PEERS_PYTHON`` (default: ``.venv-peers/bin/python`` at the
repository's top; an empty value turns the peers off).
"""

from __future__ import annotations

import json
import os
import subprocess
from functools import cache, partial
from pathlib import Path

from ._core import Case, Sample

TOP = Path(__file__).resolve().parent.parent
TRACTOR = "tractor"


@cache
def peers_python() -> str | None:
    """The interpreter in which tractor imports, or ``None``."""
    python = os.environ.get("LETITCRASH_PEERS_PYTHON", str(TOP / ".venv-peers/bin/python"))
    if not python or not os.path.exists(python):
        return None
    done = subprocess.run(
        [python, "-W", "ignore", "-c", "import tractor"], capture_output=True, timeout=60
    )
    return python if done.returncode == 0 else None


def _run(mode: str, n: int) -> dict[str, float]:
    python = peers_python()
    assert python is not None
    done = subprocess.run(
        [python, "-W", "ignore", "-m", "benchmarks._tractor_peer", mode, str(n)],
        cwd=TOP,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the tractor peer failed ({mode}): {done.stderr[-2000:]}")
    result: dict[str, float] = json.loads(done.stdout.splitlines()[-1])
    return result


def tractor_round_trip(n: int) -> Sample:
    """A warm portal call (``Portal.run``) into a tractor actor, and its frames."""
    result = _run("call", n)
    frames = {"root": result["frames_root"], "worker": result["frames_worker"]}
    return Sample(result["seconds"], frames)


def tractor_cast_rate(n: int) -> float:
    """One-way messages per second on a tractor stream into an actor that counts them."""
    return _run("cast", n)["rate"]


def cases(calls: int, casts: int) -> list[Case]:
    """tractor's cases of the ipc suite, if it imports; else none."""
    if peers_python() is None:
        return []
    return [
        Case("process_call_round_trip", TRACTOR, "s", partial(tractor_round_trip, calls)),
        Case("process_cast_throughput", TRACTOR, "msg/s", partial(tractor_cast_rate, casts)),
    ]
