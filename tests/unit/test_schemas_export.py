"""`driftline schemas export`: a JSON Schema per event type, and an AsyncAPI map read from the services' own
consumer specs, subject by subject."""

import ast
import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote

import pytest

from driftline.bus_map import PUBLISHES, asyncapi_document, subscriptions
from driftline.services import SERVICES, Service
from infra.settings import Settings
from schemas import EVENT_TYPES
from schemas.config import OWNERS, RuntimeConfig
from schemas.streams import subjects_overlap

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


def test_the_document_shows_every_subject_each_service_consumes_and_nothing_else():
    settings = Settings()
    expected = set()
    for service in SERVICES.values():
        specs = service.module.consumer_specs(settings)
        for spec in specs:
            for cls in {c for c in EVENT_TYPES.values() if any(subjects_overlap(s, c.topic) for s in spec.subjects)}:
                expected.add((f"{service.name} ({spec.durable}) consumes {cls.topic}", cls.topic))
        for cls in getattr(service.module, "FOLLOWS", ()):
            expected.add((f"{service.name} (champion follower) consumes {cls.topic}", cls.topic))
        for cls in getattr(service.module, "FOLLOWS_CONFIG", ()):
            expected.add((f"{service.name} (config follower) consumes {cls.topic}", cls.topic))
    doc = asyncapi_document(settings)
    shown = {(title, doc["channels"][unquote(op["channel"]["$ref"].split("/")[-1])]["address"])
             for title, op in doc["operations"].items() if op["action"] == "receive"}
    assert shown == expected
    assert {s.durable for s in subscriptions(settings) if s.durable} >= {"inference-worker", "monitor", "notifier",
                                                                         "agent-gate", settings.audit_durable}


def test_every_service_declares_what_it_publishes_and_a_missing_wiring_module_is_an_error():
    assert set(PUBLISHES) == set(SERVICES)
    with pytest.raises(ModuleNotFoundError):
        Service("ghost", "not there", "driftline.run_ghost:main").load()


def _constructs_follower(module: str, name: str = "ChampionFollower") -> bool:
    tree = ast.parse((ROOT / (module.replace(".", "/") + ".py")).read_text())
    return any(isinstance(node, ast.Call) and getattr(node.func, "id", None) == name for node in ast.walk(tree))


def test_a_service_that_follows_the_champion_says_so():
    for service in SERVICES.values():
        module = service.target.partition(":")[0]
        follows = bool(getattr(service.module, "FOLLOWS", ()))
        assert follows == _constructs_follower(module), f"{module}: FOLLOWS and its ChampionFollower disagree"


def test_a_service_that_applies_runtime_configuration_says_so_and_owns_keys():
    for service in SERVICES.values():
        module = service.target.partition(":")[0]
        follows = bool(getattr(service.module, "FOLLOWS_CONFIG", ()))
        assert follows == _constructs_follower(module, "ConfigFollower"), f"{module}: FOLLOWS_CONFIG disagrees"
        assert follows == bool(OWNERS.get(service.name)), f"{service.name}: follows config iff it owns keys"
    keys = [k for ks in OWNERS.values() for k in ks]
    assert sorted(keys) == sorted(RuntimeConfig.model_fields)  # each key exactly one owner
    assert set(OWNERS) <= set(SERVICES)
