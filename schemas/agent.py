"""Agent family: the diagnoser's verdict on an incident."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from schemas.action import ActionKind
from schemas.envelope import Event, Payload

DIAGNOSIS_MADE = "driftline.diagnosis.made"

Severity = Literal["low", "medium", "high", "critical"]
# challenger_better: a shadowing challenger won its paired sequential test (driftline.model.shadow_decided).
Issue = Literal["data_drift", "prediction_drift", "concept_drift", "regression", "serving", "data_quality",
                "challenger_better", "unknown"]


class Evidence(Payload):
    metric: str = Field(description="Metric or statistic observed.")
    value: float = Field(description="Its value.")
    threshold: float = Field(description="Threshold it crossed.")
    window: str = Field("", description="Window it was seen in, as text.")
    report_url: str | None = Field(None, description="Link to the report behind it.")
    alert_id: str | None = Field(None, description="Alert event that carried it.")


class ProposedAction(Payload):
    kind: ActionKind = Field(description="Action the diagnoser proposes.")
    params: dict[str, Any] = Field(default_factory=dict, description="Its parameters.")
    reason: str = Field("", description="Why.")


class Diagnosis(Payload):
    incident_id: str = Field(description="Incident this diagnosis belongs to (the correlation id).")
    model: str = Field(description="Registered model name.")
    issue: Issue = Field(description="What kind of problem it is.")
    severity: Severity = Field(description="How bad it is.")
    reasoning: str = Field(description="The reasoning in plain words.")
    evidence: list[Evidence] = Field(description="Evidence the verdict rests on.")
    features: list[str] = Field(default_factory=list, description="Features involved.")
    proposed_actions: list[ProposedAction] = Field(description="Actions proposed, in order.")
    alert_ids: list[str] = Field(default_factory=list, description="Alerts folded into this incident.")
    revision: int = Field(1, description="1 for the first diagnosis of an incident; +1 each time it is re-scored.")
    previous_severity: Severity | None = Field(None, description="Severity of the revision before, if any.")
    changes: list[str] = Field(default_factory=list, description="What changed since the revision before, in words.")
    signals: dict[str, float] = Field(default_factory=dict,
                                      description="The measured signals the severity was scored from.")
    headline: str = Field("", description="What changed, how much, what it does to the model and what is proposed.")


class DiagnosisMade(Event):
    """The diagnoser classified an incident and proposed actions."""

    topic: ClassVar[str] = DIAGNOSIS_MADE
    type: Literal["driftline.diagnosis.made.v1"] = "driftline.diagnosis.made.v1"
    data: Diagnosis
