"""Print infra/compose/smoke-policy.yaml: agent/policy.yaml with every drift, at every severity, answered by an
alert and a retrain of one quick family, so scripts/topology.sh's smoke test always has one approval to decide.

Regenerate after changing agent/policy.yaml (tests/unit/test_deploy_config_topology.py says when):
    python scripts/topology/smoke_policy.py > infra/compose/smoke-policy.yaml
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

POLICY = Path(__file__).resolve().parents[2] / "agent/policy.yaml"
RETRAIN = {"kind": "retrain_model", "params": {"include_production_labels": True, "families": ["logistic_regression"]}}
HEADER = ("# scripts/topology.sh's smoke policy (infra/compose/smoke.yml), written by scripts/topology/smoke_policy.py:\n"
          "# agent/policy.yaml with every drift answered by an alert and a retrain of one quick family.\n")


def smoke_policy(policy: dict) -> dict:
    for severity in policy["responses"].values():
        severity["default"] = [{"kind": "send_alert"}, RETRAIN]
        for issue, actions in severity.items():  # an issue's own retrain (a concept drift's) keeps its parameters
            for action in actions:
                if issue != "default" and action["kind"] == "retrain_model":
                    action["params"] = {**action.get("params", {}), "families": RETRAIN["params"]["families"]}
    return policy


def render() -> str:
    return HEADER + yaml.safe_dump(smoke_policy(yaml.safe_load(POLICY.read_text())), sort_keys=False)


if __name__ == "__main__":
    sys.stdout.write(render())
