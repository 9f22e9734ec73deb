"""One incident's state between events, and what it calls for: a diagnosis when it opens, a new one each time its
severity rises. Pure: the diagnoser loads it from its row, applies an event, saves it with what it announces."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from agent import words
from agent.evidence import Evidence
from agent.policy import SEVERITIES, Policy
from agent.severity import Assessment, Signals, assess
from schemas import AlertRaised, DiagnosisMade, Event
from schemas.agent import Diagnosis, ProposedAction
from schemas.agent import Evidence as EvidenceItem

SOURCE = "agent/diagnoser"
REPAIRS = frozenset({"retrain_model", "deploy_model", "rollback_model", "change_config"})
FAMILY = {"data_drift": "drift", "prediction_drift": "drift", "quality_drift": "drift", "estimated_quality": "drift",
          "concept_drift": "drift", "latency": "serving",
          "error_rate": "serving", "consumer_lag": "serving", "data_quality": "data_quality"}


def family_of(alert: AlertRaised) -> str:
    """Which incident an alert belongs to: drift of any kind is one incident per model, serving another."""
    a = alert.data
    if a.kind in FAMILY:
        return FAMILY[a.kind]
    return "serving" if a.labels.get("issue") == "serving" else "external"


@dataclass(frozen=True)
class ModelFacts:
    """What the diagnoser knows of a model's registry history (from its promotion and rollback events)."""

    champion: str | None = None
    previous: str | None = None
    promoted_at: datetime | None = None


@dataclass
class IncidentState:
    incident_id: str
    model: str
    family: str
    opened_at: datetime
    evidence: Evidence = field(default_factory=Evidence)
    severity: str | None = None
    revision: int = 0
    issue: str = "unknown"
    kinds: list[str] = field(default_factory=list)
    alert_ids: list[str] = field(default_factory=list)
    items: list[dict] = field(default_factory=list)  # evidence items of the alerts (metric, value, threshold...)
    magnitude: float = 1.0
    proposed: list[str] = field(default_factory=list)  # repair kinds already proposed
    signals: dict[str, float] = field(default_factory=dict)
    phase: str = "open"  # open -> verifying (a repair changed what serves) -> resolved; escalated: a person's turn
    cleared: list[str] = field(default_factory=list)  # alert kinds whose condition ended
    remediation: dict[str, Any] | None = None  # the repair being verified (verification.Remediation as JSON)

    @classmethod
    def opened_by(cls, alert: AlertRaised, evidence: Evidence) -> IncidentState:
        state = cls(alert.id, alert.data.model, family_of(alert), alert.time, evidence=evidence)
        state.add_alert(alert)
        return state

    def add_alert(self, alert: AlertRaised) -> None:
        a = alert.data
        if a.kind not in self.kinds:
            self.kinds.append(a.kind)
        self.alert_ids.append(alert.id)
        window = f"{a.window.start.isoformat()} .. {a.window.end.isoformat()} ({a.window.events} events)" if a.window else ""
        self.items = [*self.items, EvidenceItem(metric=a.statistic, value=a.value, threshold=a.threshold, window=window,
                                                report_url=a.report_url, alert_id=alert.id).model_dump(mode="json")][-10:]
        if self.family != "drift":
            self.magnitude = max(self.magnitude, _magnitude(a.value, a.threshold, a.kind))

    def current(self, policy: Policy, now: datetime) -> tuple[Signals, Assessment]:
        rules, e = policy.severity, self.evidence
        signals = Signals(
            drifted_importance=e.drifted_importance(), prediction_shift=e.prediction_shift(),
            quality_drop=e.quality_drop(rules.min_labelled), labelled=e.labels.n, estimated_drop=e.estimated_drop(),
            estimate_invalid=e.estimate_invalid, minutes=max((now - self.opened_at).total_seconds() / 60, 0.0),
            magnitude=self.magnitude)
        return signals, assess(signals, rules, self.family)

    def classify(self, signals: Signals, policy: Policy, facts: ModelFacts) -> str:
        """The issue the signals point at; a quality loss soon after a promotion is the new model's regression."""
        if self.family in ("serving", "data_quality"):
            return self.family
        if self.family == "external":
            return "unknown"
        quality_lost = bool(signals.quality_drop) or bool(signals.estimated_drop and signals.estimated_drop
                                                          >= policy.severity.quality_drop[0])
        recent = facts.promoted_at is not None and \
            (self.opened_at - facts.promoted_at).total_seconds() <= policy.regression_window_minutes * 60
        inputs_moved = signals.drifted_importance >= policy.severity.drifted_importance[0]
        if quality_lost and recent and facts.previous and not inputs_moved:
            return "regression"
        # A quality loss is the inputs' doing when important ones moved, or when drifted ones moved the predictions
        # (a changed relation leaves the predictions where they were). The estimate also stops holding when the
        # inputs leave the training data (a sensor stuck at one value): a broken estimate is a changed relation
        # only when no input drifted at all.
        inputs_drifted = bool(self.evidence.drifted_features)
        explained = inputs_moved or (inputs_drifted and signals.prediction_shift >= policy.severity.prediction_shift[0])
        if (signals.estimate_invalid and not inputs_drifted) or (quality_lost and not explained):
            return "concept_drift"
        if signals.prediction_shift >= policy.severity.prediction_shift[0] and not inputs_drifted:
            return "prediction_drift"  # the predictions moved and no input is seen to have
        return "data_drift"

    def rescore(self, cause: Event, policy: Policy, facts: ModelFacts, now: datetime) -> DiagnosisMade | None:
        """A diagnosis when the incident opens or its severity rises (never lowered by itself: a person decides)."""
        signals, verdict = self.current(policy, now)
        self.signals = {**signals.as_dict(), **self._quality_now()}
        if self.severity is not None and SEVERITIES.index(verdict.severity) <= SEVERITIES.index(self.severity):
            return None
        previous, self.severity, self.revision = self.severity, verdict.severity, self.revision + 1
        self.issue = self.classify(signals, policy, facts)
        proposals = self._proposals(policy, facts)
        changes = [] if previous is None else [f"severity {previous} -> {verdict.severity}", *verdict.reasons]
        reasoning = words.reasoning(self, verdict, proposals, escalate=verdict.severity in policy.escalate)
        return cause.caused(
            DiagnosisMade, source=SOURCE, subject=self.model, key=f"rev{self.revision}", correlation_id=self.incident_id,
            data=Diagnosis(incident_id=self.incident_id, model=self.model, issue=self.issue, severity=verdict.severity,
                           reasoning=reasoning, evidence=[EvidenceItem(**i) for i in self.items],
                           features=self.evidence.drifted_features, proposed_actions=proposals,
                           alert_ids=list(self.alert_ids), revision=self.revision, previous_severity=previous,
                           changes=changes, signals=self.signals,
                           headline=words.headline(self, proposals)))

    def _quality_now(self) -> dict[str, float]:
        """The numbers a person weighs a proposal by: F1 now (labels), estimated, and on the reference."""
        e, out = self.evidence, {}
        for name, value in (("f1_reference", e.reference.get("f1")), ("f1_labelled", e.labels.f1()),
                            ("f1_estimated", (e.estimated or {}).get("estimated_f1"))):
            if value is not None:
                out[name] = round(value, 4)
        if e.impact and e.impact.get("positive_rate") is not None:
            out["positive_rate"] = e.impact["positive_rate"]
            out["reference_positive_rate"] = e.impact["reference_positive_rate"]
        return out

    def _proposals(self, policy: Policy, facts: ModelFacts) -> list[ProposedAction]:
        out = []
        for template in policy.response(self.severity, self.issue):
            if template.kind in REPAIRS and template.kind in self.proposed:
                continue  # one repair of a kind per incident; a failed one is followed by the verification rule
            params = dict(template.params)
            if template.kind == "rollback_model" and "to_version" not in params:
                if not facts.previous:
                    continue  # nothing to roll back to: the proposal would fail
                params["to_version"] = facts.previous  # bound now: the approver sees exactly where it goes
            if template.kind == "retrain_model" and self.family == "drift":
                # Rows labelled from here on are the changed traffic: the retrain learns from and is judged on them.
                params.setdefault("since", self.opened_at.isoformat())
            out.append(ProposedAction(kind=template.kind, params=params,
                                      reason=f"{self.severity} {self.issue.replace('_', ' ')}"))
            if template.kind in REPAIRS:
                self.proposed.append(template.kind)
        # why, in the words a person reads (the alert the agent sends carries it)
        headline = words.headline(self, out)
        return [p.model_copy(update={"reason": f"{p.reason}: {headline}"}) for p in out]

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["opened_at"] = self.opened_at.isoformat()
        doc["evidence"] = self.evidence.to_json()
        return doc

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> IncidentState:
        doc = dict(doc)
        doc["opened_at"] = datetime.fromisoformat(doc["opened_at"])
        doc["evidence"] = Evidence.from_json(doc.get("evidence"))
        return cls(**doc)


def _magnitude(value: float, threshold: float, kind: str) -> float:
    """How far past its threshold a serving alert's value is, as a ratio >= 1 whichever way it was crossed."""
    value, threshold = abs(value), abs(threshold)
    if threshold == 0:
        return 1.0 if value == 0 else 10.0
    ratio = value / threshold
    return max(ratio if ratio >= 1 else (threshold / value if value else 10.0), 1.0)
