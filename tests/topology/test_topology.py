"""The production topology, started and exercised for real: `scripts/topology.sh up test down`.

Debian's dockerd with its own data root, every image built here (a debootstrap base, stand-ins for the public
images, infra/Dockerfile), docker-compose.yml brought up healthy, then the smoke test from outside the containers
and a NATS stream leader killed under load (docs/operations.md, "Running it for real on one Debian machine").
The script's timings and tallies are kept in the test artifacts (topology.log).

In the default run, because it fits: measured 17 min cold (every image built, on a shared 2-core machine at load
8 to 12) and 5 to 10.5 min warm (images cached, load 20 to 33), beside a 9-minute suite in CI's 90 minutes
(docs/operations.md has each step). Needs root, as the whole suite does (scripts/install.sh installs Debian
packages); `-m "not topology"` leaves it out.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

pytestmark = [pytest.mark.topology, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(3600)
def test_the_topology_comes_up_passes_its_smoke_test_and_loses_nothing_acknowledged(artifacts_dir):
    log = artifacts_dir / "topology.log"
    with log.open("w") as out:
        done = subprocess.run(["bash", str(ROOT / "scripts/topology.sh"), "up", "test", "down"], cwd=ROOT,
                              stdout=out, stderr=subprocess.STDOUT, timeout=3500)
    text = log.read_text()
    if done.returncode != 0:  # leave nothing running after a failure either
        subprocess.run(["bash", str(ROOT / "scripts/topology.sh"), "down"], cwd=ROOT, capture_output=True,
                       timeout=300)
    assert done.returncode == 0, text[-6000:]
    steps = {json.loads(line)["step"]: json.loads(line) for line in text.splitlines() if line.startswith('{"step"')}
    for step in ("deploy-smoke", "bus-request", "predict-traced", "traces", "prometheus-targets", "user", "decide",
                 "action-completed", "leader-stop", "rejoined"):
        assert step in steps, f"the smoke test never printed its `{step}` line"
    tally = steps["leader-stop"]
    assert tally["published"] > 0 and tally["acked"] > 0 and tally["lost"] == 0 and tally["duplicated"] == 0, tally
    assert tally["leader_after"] and tally["leader_after"] != tally["leader_killed"], tally
    assert steps["bus-request"]["tls"] is True
    assert len(steps["prometheus-targets"]["worker_replicas"]) == 2
    assert steps["action-completed"]["chain"][0] == "alert.raised"
    traced = steps["traces"]  # one trace from /predict across the bus, and the worker in a bus request's
    assert traced["predict_trace"]["trace_id"] == steps["predict-traced"]["trace_id"]
    assert "POST /predict" in traced["predict_trace"]["spans"], traced
    assert any(name.endswith(" process") for name in traced["predict_trace"]["spans"]), traced
    assert any(name.startswith("inference-worker ") for name in traced["bus_trace"]["spans"]), traced
    print("\n".join(line for line in text.splitlines() if line.rstrip().endswith(" s") or line.startswith("{")))
