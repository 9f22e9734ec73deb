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
    """Points per signal step; the severity is the highest band whose minimum the points reach."""

    drifted_importance: list[float]  # share of prediction sensitivity carried by drifted features, per step +1
    prediction_shift: list[float]  # change in the share predicted positive, per step +1
    quality_drop: list[float]  # F1 lost (labels, else the estimate), per step +quality_points
    quality_points: int = Field(2, ge=0)
    min_labelled: int = Field(100, ge=1)  # labels before a measured drop counts
    estimate_invalid_points: int = Field(2, ge=0)
    duration_minutes: list[float]
    serving_magnitude: list[float]  # latency, error rate, lag: value/threshold, per step +1
    bands: dict[Severity, int]

    @field_validator("drifted_importance", "prediction_shift", "quality_drop", "duration_minutes", "serving_magnitude")
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


class VerificationRules(_Strict):
    """How a remediation's outcome is checked on current traffic, and what follows a failure."""

    labelled_rows: int = Field(gt=0)  # labelled rows served by the new version before the verdict
    min_predictions: int = Field(gt=0)  # without enough labels by the timeout: predictions, drift gone
    timeout_minutes: float = Field(gt=0)
    tolerance: float = Field(ge=0)  # passes if F1 after is within this of the pre-incident F1 ...
    min_gain: float = Field(ge=0)  # ... or at least this much above the F1 during the incident
    on_failure: list[ActionTemplate]  # proposed (through the gate) when a verification fails; a person is told


class PromotionRules(_Strict):
    """Which hold-out decides whether a retrained model replaces the champion (the trainer applies it)."""

    decide_on: Literal["recent", "reference"]  # recent: latest labelled production rows, split by time
    recent_share: float = Field(gt=0, lt=1)  # share of the labelled production rows held out (the newest)
    min_recent_rows: int = Field(gt=0)  # fewer: `too_few_recent` says who decides, and the event says so
    # shadow: the version stays challenger and the shadow test judges it on live traffic (labels late after a drift:
    # the reference hold-out speaks for yesterday's traffic); reference: the reference hold-out decides at once.
    too_few_recent: Literal["shadow", "reference"] = "shadow"
    # A retrain of a drift waits up to this long for enough rows labelled since the incident began (min_recent_rows
    # held out at recent_share); labels later than that: it trains on what there is and too_few_recent applies.
    wait_for_labels_minutes: float = Field(2.0, ge=0)
    margin: float = Field(ge=0)  # the challenger must beat the champion by this on the deciding hold-out
    max_reference_drop: float = Field(ge=0)  # and lose at most this on the reference hold-out (no forgetting)


class Policy(_Strict):
    tiers: dict[ActionKind, Tier]
    severity: SeverityRules
    responses: dict[Severity, dict[str, list[ActionTemplate]]]
    escalate: list[Severity] = Field(default_factory=list)
    storm_window_minutes: float = Field(gt=0)
    approval_ttl_minutes: float = Field(gt=0)
    regression_window_minutes: float = Field(gt=0)  # quality lost this soon after a promotion: the new model's fault
    verification: VerificationRules
    promotion: PromotionRules

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
