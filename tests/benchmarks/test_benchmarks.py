"""``python -m benchmarks SUITE --quick`` runs ours and every peer, and writes its records.

The peers of an environment of their own (tractor) are turned off here: the
suite's tests do not need them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support import run_python

OURS = "letitcrash"
ROUND_TRIP_SUBJECTS = {
    OURS,
    "multiprocessing.Pipe",
    "socketpair floor",
    "trio server floor",
    "trio-to-trio floor",
}
EXPECTED = {
    "inproc": {
        "spawn_first_call": {OURS, "trio", "pykka"},
        "call_round_trip": {OURS, "trio", "pykka"},
        "asyncio_call_round_trip": {
            OURS,
            "call_round_trip (trio actors, trio.run)",
            "trio actors on uvloop",
        },
        "tell_throughput": {OURS, "trio", "pykka"},
    },
    "spawn": {
        "cold_first_call": {
            OURS,
            "python -I -S -c pass",
            "multiprocessing spawn",
            "multiprocessing forkserver",
            "trio-parallel",
        },
        "warm_call": {OURS, "trio-parallel", "ProcessPoolExecutor"},
        "spawn_parent_rss 0.1GB": {OURS, "fork"},
        "executor_small_tasks": {OURS, f"{OURS} codec=msgpack", "ProcessPoolExecutor"},
        "executor_map_chunked": {OURS, f"{OURS} codec=msgpack", "ProcessPoolExecutor"},
    },
    "ipc": {
        scenario: ROUND_TRIP_SUBJECTS
        for scenario in (
            "process_call_round_trip",
            "process_call_round_trip pinned",
            "process_call_round_trip frames root",
            "process_call_round_trip frames worker",
        )
    }
    | {"process_cast_throughput": {OURS, "multiprocessing.Pipe", "multiprocessing.Queue"}},
    "restart": {"restart_first_call": {OURS, "multiprocessing spawn", "kill-to-EOF floor"}},
    "services": {
        "kv_round_trip": {OURS, "trio.serve_tcp dict"},
        "echo_round_trip": {OURS, "trio.serve_tcp echo"},
        "connections": {OURS, "trio.serve_tcp dict"},
    },
    "persist": {
        "strict_acked_writes 1": {OURS, "bare sqlite3 loop (FULL, WAL)"},
        "strict_acked_writes 100": {OURS, "bare sqlite3 loop (FULL, WAL)"},
    },
}


@pytest.mark.parametrize("suite", sorted(EXPECTED))
def test_quick_run_writes_every_scenario_and_peer(
    suite: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LETITCRASH_PEERS_PYTHON", "")
    out = tmp_path / "records.json"
    done = run_python("-m", "benchmarks", suite, "--quick", "--json", str(out), timeout=110)
    assert done.returncode == 0, done.stderr
    seen: dict[str, set[str]] = {}
    frames: dict[tuple[str, str], float] = {}
    for record in json.loads(out.read_text()):
        assert set(record) == {"suite", "scenario", "subject", "unit", "median", "min", "max", "n"}
        assert record["suite"] == suite
        assert record["unit"] in {
            "s",
            "frames",
            "msg/s",
            "tasks/s",
            "calls/s",
            "conn/s",
            "writes/s",
        }
        assert record["n"] == 3
        assert 0 <= record["min"] <= record["median"] <= record["max"]
        assert record["min"] > 0 or record["unit"] == "frames"
        assert (record["unit"] == "frames") == (" frames " in record["scenario"])
        if record["unit"] == "frames":
            frames[record["scenario"].rsplit(" ", 1)[1], record["subject"]] = record["median"]
        seen.setdefault(record["scenario"], set()).add(record["subject"])
    assert seen == EXPECTED[suite]
    assert "ours/peer" in done.stdout
    if suite == "ipc":
        # Both sides counted, over the same calls: a Python loop (the blocking
        # client) enters a few frames per call, an event loop many more.
        assert 1 <= frames["root", "socketpair floor"] < frames["root", "trio-to-trio floor"]
        assert 1 <= frames["worker", "multiprocessing.Pipe"] < frames["worker", OURS]
        assert frames["worker", "socketpair floor"] < 1  # its echo loop calls no Python function
        assert frames["root", OURS] > frames["root", "trio-to-trio floor"]
