"""``python -m benchmarks inproc --quick`` runs ours and the peers and writes its records."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_inproc_quick_runs_every_subject(tmp_path: Path) -> None:
    out = tmp_path / "inproc.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "inproc", "--quick", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    records = json.loads(out.read_text())
    seen = {(r["scenario"], r["subject"]) for r in records}
    for scenario in ("spawn_first_call", "call_round_trip", "tell_throughput"):
        for subject in ("letitcrash", "trio", "pykka"):
            assert (scenario, subject) in seen
    for record in records:
        assert set(record) == {"suite", "scenario", "subject", "unit", "median", "min", "max", "n"}
        assert record["suite"] == "inproc"
        assert 0 < record["min"] <= record["median"] <= record["max"]
        assert record["n"] >= 3
    assert "ours/peer" in done.stdout
