"""``python -m benchmarks SUITE --quick`` runs ours and every peer, and writes its records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support import run_python

OURS = "letitcrash"
EXPECTED = {
    "inproc": {
        "spawn_first_call": {OURS, "trio", "pykka"},
        "call_round_trip": {OURS, "trio", "pykka"},
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
        scenario: {
            OURS,
            "multiprocessing.Pipe",
            "socketpair floor",
            "trio server floor",
            "trio-to-trio floor",
        }
        for scenario in ("process_call_round_trip", "process_call_round_trip pinned")
    }
    | {"process_cast_throughput": {OURS, "multiprocessing.Pipe", "multiprocessing.Queue"}},
    "restart": {"restart_first_call": {OURS, "multiprocessing spawn", "kill-to-EOF floor"}},
}


@pytest.mark.parametrize("suite", sorted(EXPECTED))
def test_quick_run_writes_every_scenario_and_peer(suite: str, tmp_path: Path) -> None:
    out = tmp_path / "records.json"
    done = run_python("-m", "benchmarks", suite, "--quick", "--json", str(out), timeout=110)
    assert done.returncode == 0, done.stderr
    seen: dict[str, set[str]] = {}
    for record in json.loads(out.read_text()):
        assert set(record) == {"suite", "scenario", "subject", "unit", "median", "min", "max", "n"}
        assert record["suite"] == suite
        assert record["unit"] in {"s", "msg/s", "tasks/s", "calls/s"}
        assert record["n"] == 3
        assert 0 < record["min"] <= record["median"] <= record["max"]
        seen.setdefault(record["scenario"], set()).add(record["subject"])
    assert seen == EXPECTED[suite]
    assert "ours/peer" in done.stdout
