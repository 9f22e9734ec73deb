"""`driftline schemas export`: a JSON Schema per event type, and an AsyncAPI map that matches the real consumers."""

import json
import subprocess
import sys
from pathlib import Path

from driftline.bus_map import ROUTES
from schemas import EVENT_TYPES

ROOT = Path(__file__).resolve().parents[2]


def test_export_writes_every_schema_and_the_asyncapi_document(tmp_path):
    done = subprocess.run([sys.executable, "-m", "driftline", "schemas", "export", str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    for etype, cls in EVENT_TYPES.items():
        schema = json.loads((tmp_path / f"{etype}.schema.json").read_text())
        assert schema["title"] == cls.__name__
        assert "data" in schema["required"] and "id" in schema["properties"]
    doc = json.loads((tmp_path / "asyncapi.json").read_text())
    assert doc["asyncapi"] == "3.0.0"
    addresses = {channel["address"] for channel in doc["channels"].values()}
    assert addresses == {cls.topic for cls in EVENT_TYPES.values()}  # every event has a producer in the map


def test_the_map_names_the_durables_the_services_really_use():
    from consumers.monitor.service import DURABLE as monitor
    from consumers.notifier.service import consumer_spec as notifier_spec
    from consumers.reports.service import consumer_spec as reports_spec
    from inference.worker import DURABLE as worker
    from infra.settings import Settings

    settings = Settings()
    real = {worker, monitor, notifier_spec(settings).durable, reports_spec(settings).durable, settings.audit_durable,
            "agent-diagnoser", "agent-gate", "agent-executor"}
    assert {route.durable for route in ROUTES if route.durable} == real
    agent_wiring = (ROOT / "driftline" / "run_agent.py").read_text()
    for name in ("agent-diagnoser", "agent-gate", "agent-executor"):
        assert f'"{name}"' in agent_wiring
