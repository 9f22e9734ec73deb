"""The policy as data: approval tiers, severity scoring and the response to each severity, from YAML."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from schemas.action import ActionKind, Tier

DEFAULT_POLICY = Path(__file__).with_name("policy.yaml")
SEVERITIES = ("low", "medium", "high", "critical")
Severity = Literal["low", "medium", "high", "critical"]


class PolicyError(ValueError):
    """The policy file is missing or invalid; the agent refuses to start."""


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ActionTemplate(_Strict):
    kind: ActionKind
    params: dict[str, Any] = Field(default_factory=dict)


class SeverityRules(_Strict):
    magnitude_ratio: list[float]
    breadth_features: list[int]
    duration_minutes: list[float]
    label_confirmed_points: int = Field(ge=0)
    bands: dict[Severity, int]

    @field_validator("magnitude_ratio", "breadth_features", "duration_minutes")
    @classmethod
    def _ascending(cls, steps: list) -> list:
        if steps != sorted(steps):
            raise ValueError("steps must be in ascending order")
        return steps

    @model_validator(mode="after")
    def _bands(self) -> SeverityRules:
        if set(self.bands) != set(SEVERITIES):
            raise ValueError(f"bands must name exactly {', '.join(SEVERITIES)}")
        if [self.bands[s] for s in SEVERITIES] != sorted(self.bands[s] for s in SEVERITIES):
            raise ValueError("band minimums must rise from low to critical")
        return self


class Policy(_Strict):
    tiers: dict[ActionKind, Tier]
    severity: SeverityRules
    responses: dict[Severity, dict[str, list[ActionTemplate]]]
    escalate: list[Severity] = Field(default_factory=list)
    storm_window_minutes: float = Field(gt=0)
    approval_ttl_minutes: float = Field(gt=0)

    @model_validator(mode="after")
    def _complete(self) -> Policy:
        missing = set(get_args(ActionKind)) - set(self.tiers)
        if missing:
            raise ValueError(f"tiers must give every action kind a tier; missing: {', '.join(sorted(missing))}")
        for severity in SEVERITIES:
            if "default" not in self.responses.get(severity, {}):
                raise ValueError(f"responses.{severity} needs a `default` list")
        return self

    @property
    def storm_window(self) -> timedelta:
        return timedelta(minutes=self.storm_window_minutes)

    @property
    def approval_ttl(self) -> timedelta:
        return timedelta(minutes=self.approval_ttl_minutes)

    def tier(self, kind: str) -> Tier:
        return self.tiers[kind]

    def response(self, severity: str, issue: str) -> list[ActionTemplate]:
        by_issue = self.responses[severity]
        return by_issue.get(issue, by_issue["default"])


def load_policy(path: Path | None = None) -> Policy:
    """Read and validate a policy file (the shipped defaults when `path` is None)."""
    path = Path(path) if path else DEFAULT_POLICY
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise PolicyError(f"policy file {path} does not exist") from None
    except yaml.YAMLError as exc:
        raise PolicyError(f"policy file {path} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise PolicyError(f"policy file {path} must be a mapping of settings")
    try:
        return Policy.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'policy'}: {e['msg']}" for e in exc.errors())
        raise PolicyError(f"policy file {path} is invalid: {problems}") from None
