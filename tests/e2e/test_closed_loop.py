"""The closed loop against a real nats-server, PostgreSQL and MLflow store, each service run by `driftline serve`: drift -> alert -> diagnosis -> approval
requested -> approved from the terminal -> retrain -> the new champion serves the next predictions, all under
one correlation id."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from agent.policy import DEFAULT_POLICY
from infra.bus import Bus
from infra.models import CHAMPION, champion_version
from infra.processes import free_port
from infra.settings import Settings
from schemas import (
    ActionCompleted,
    ActionScheduled,
    ActionStarted,
    AlertRaised,
    ApprovalDecided,
    ApprovalRequested,
    DiagnosisMade,
    ModelPromoted,
    ModelTrained,
    PredictionMade,
    PredictionRequested,
)
from tests.integration.agent_helpers import Watch
from tests.model_fixtures import breast_cancer_frame, register_simple_model

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
RETRAIN = {"kind": "retrain_model", "params": {"include_production_labels": True,
                                              "families": ["logistic_regression"]}}


def loop_env(tmp_path: Path, settings: Settings) -> dict[str, str]:
    # Policy as data: any drift incident proposes a retrain (one approver); the default maps high severity to a
    # rollback, which needs an earlier version than this fresh registry has.
    doc = yaml.safe_load(DEFAULT_POLICY.read_text())
    for severity in ("low", "medium", "high", "critical"):
        doc["responses"][severity]["default"] = [{"kind": "send_alert"}, RETRAIN]
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump(doc))
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTLINE_")}
    env.update(
        DRIFTLINE_DATA_DIR=str(settings.data_dir), DRIFTLINE_NATS_URL=settings.nats_url,
        DRIFTLINE_DATABASE_URL=settings.database_url, DRIFTLINE_MONITOR_METRICS_PORT=str(free_port()),
        DRIFTLINE_AGENT_POLICY_FILE=str(policy), DRIFTLINE_MONITOR_WINDOW_EVENTS="200",
        DRIFTLINE_MONITOR_EVIDENTLY_REPORTS="false",
    )
    return env


async def driftline(env, *args: str, timeout: float = 300, stdin: str | None = None) -> str:
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "driftline", *args, cwd=ROOT, env=env,
                                                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(None if stdin is None else (stdin + "\n").encode()), timeout)
    assert proc.returncode == 0, f"driftline {' '.join(args)} failed:\n{out.decode()}"
    return out.decode()


def serve(env, service: str, logs: Path) -> subprocess.Popen:
    """`driftline serve SERVICE`, as a deployment that scales each part runs it."""
    logs.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen([sys.executable, "-m", "driftline", "serve", service], cwd=ROOT, env=env,
                            stdout=open(logs / f"{service}.log", "w"), stderr=subprocess.STDOUT)


def stop_all(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


async def serving_version(bus: Bus, watch: Watch, n: int) -> str:
    request = PredictionRequested(source="test", subject="driftline-classifier", data=dict(
        request_id=f"after-{n}", features=FEATURES))
    await bus.publish(request)
    [made] = await watch.wait(PredictionMade, lambda e: e.data.request_id == request.data.request_id, timeout=60)
    return made.data.model_version


FEATURES: dict = {}


@pytest.mark.timeout(1500)
async def test_drift_is_repaired_after_a_terminal_approval(tmp_path, bus, database_url, settings, artifacts_dir,
                                                           request):
    settings = settings.model_copy(update={"database_url": database_url})
    env = loop_env(tmp_path, settings)
    # A weak first champion (heavily regularised), so the retrain has something to win.
    first = register_simple_model(settings, C=1e-4)
    FEATURES.update(breast_cancer_frame().drop(columns="target").iloc[0].to_dict())
    logs = artifacts_dir / "closed-loop-logs"  # kept after the run, to read what each service did
    procs = [serve(env, name, logs) for name in ("worker", "monitor", "agent")]
    request.addfinalizer(lambda: stop_all(procs))  # also when the test is cut short by its timeout
    watch = await Watch().start(bus)
    try:
        await driftline(env, "users", "add", "bob", "--role", "approver", "--password-stdin", stdin="bob-secret-12")
        await driftline(env, "simulate", "--rows", "1600", "--rate", "400", "--drift-at", "400",
                        # a shift the monitor sees and the data contract still accepts for retraining
                        "--shift", "mean radius=1", "--shift", "worst radius=1", "--shift", "mean texture=1",
                        "--shift", "mean area=1",
                        "--label-delay", "1", "--seed", "7")
        [asked, *_] = await watch.wait(ApprovalRequested, lambda e: e.data.action.kind == "retrain_model",
                                         timeout=300)
        incident = asked.correlation_id
        out = await driftline(env, "approvals", "approve", asked.data.approval_id, "--as", "bob", "--password-stdin",
                              "--comment", "retrain on the new data", stdin="bob-secret-12")
        assert "approved by bob" in out
        [done] = await watch.wait(ActionCompleted, lambda e: e.correlation_id == incident
                                  and e.data.kind == "retrain_model", timeout=600)
        assert done.data.result["promoted"] is True, done.data.summary
        new = done.data.result["version"]
        assert new != first and done.data.result["production_rows"] > 0
        assert done.data.metrics_after["f1"] > done.data.metrics_before["f1"]

        version = await serving_version(bus, watch, 0)
        for n in range(1, 60):  # the worker reloads on model.promoted; ask until it answers with the new one
            if version == new:
                break
            await asyncio.sleep(0.5)
            version = await serving_version(bus, watch, n)
        assert version == new
        assert str(champion_version(settings, CHAMPION).version) == new

        chain = [e for e in watch.events if e.correlation_id == incident]
        kinds = [type(e) for e in chain]
        for cls in (AlertRaised, DiagnosisMade, ApprovalRequested, ApprovalDecided, ActionScheduled, ActionStarted,
                    ModelTrained, ModelPromoted, ActionCompleted):
            assert cls in kinds, f"{cls.__name__} missing from the incident's chain"
        [alert] = watch.of(AlertRaised, lambda e: e.id == incident)  # the incident is its first alert
        assert alert.data.model == "driftline-classifier"
        print({"incident": incident, "events": len(chain), "alert_kind": alert.data.kind,
               "severity": watch.of(DiagnosisMade, lambda e: e.correlation_id == incident)[0].data.severity,
               "new_champion": new, "f1_before": done.data.metrics_before["f1"],
               "f1_after": done.data.metrics_after["f1"]})
    finally:
        await watch.stop()
