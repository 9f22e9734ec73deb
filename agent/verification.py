"""Did the remediation help? The traffic the new version serves is watched until the policy's rule can decide.
Pure: the incident's remediation record, window reports of the served version, the rule; a Verification out."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from agent.evidence import Counts
from agent.policy import VerificationRules
from schemas import ActionCompleted
from schemas.action import Verification
from schemas.monitoring import DriftWindowReport


@dataclass
class Remediation:
    action_id: str
    kind: str
    version: str | None  # the version serving after it; None: nothing changed (e.g. a declined retrain)
    at: datetime
    before: dict[str, float] = field(default_factory=dict)  # during the incident, on current traffic
    baseline: dict[str, float] = field(default_factory=dict)  # before the incident (the reference hold-out)
    after: Counts = field(default_factory=Counts)
    predictions: int = 0
    drift_windows: int = 0
    summary: str = ""
    # A retrain whose version was not promoted but shadows as challenger: nothing serves yet, its shadow test decides
    # (a promotion then starts the watch; keep or inconclusive means the repair changed nothing).
    shadowing: str | None = None

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["at"] = self.at.isoformat()
        return doc

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Remediation:
        doc = dict(doc)
        doc["at"] = datetime.fromisoformat(doc["at"])
        doc["after"] = Counts(**doc.get("after", {}))
        return cls(**doc)


def served_version(done: ActionCompleted) -> str | None:
    """The version a finished repair put into service, or None if it changed nothing."""
    r = done.data.result
    if done.data.kind == "retrain_model":
        return str(r["version"]) if r.get("promoted") else None
    if done.data.kind == "deploy_model":
        return str(r.get("version")) if r.get("version") else None
    if done.data.kind == "rollback_model":
        return str(r.get("to")) if r.get("to") else None
    return None


def shadowing(done: ActionCompleted) -> str | None:
    """The version a finished retrain left in the shadow as challenger (not promoted), or None."""
    r = done.data.result
    if done.data.kind == "retrain_model" and not r.get("promoted") and r.get("shadowed"):
        return str(r["version"])
    return None


def shadow_lost(rem: Remediation, challenger: str, decision: str, reason: str, incident_id: str,
                model: str) -> Verification | None:
    """The shadowing version's test ended without a promotion: the repair changed nothing in service."""
    if rem.version is not None or rem.shadowing != challenger or decision == "promote":
        return None
    return Verification(incident_id=incident_id, model=model, action_id=rem.action_id, kind=rem.kind,
                        served_version=None, before=rem.before, baseline=rem.baseline, passed=False,
                        basis="not_applied", rule="the retrained version must win its shadow test to serve",
                        summary=f"version {challenger} did not win its shadow test ({decision}): {reason}"[:500])


def add_report(remediation: Remediation, report: DriftWindowReport) -> None:
    """Count a window of the served version: labelled outcomes, predictions, whether it drifted again."""
    if remediation.version is None or report.model_version != remediation.version:
        return
    remediation.after.add(report.quality)
    remediation.predictions += report.window.events
    remediation.drift_windows += int(any(f.drifted for f in report.features))


def verdict(rem: Remediation, rules: VerificationRules, incident_id: str, model: str,
            now: datetime) -> Verification | None:
    """The verdict once the rule can decide: enough labelled rows, or the timeout; None while watching."""
    common = dict(incident_id=incident_id, model=model, action_id=rem.action_id, kind=rem.kind,
                  served_version=rem.version, before=rem.before, baseline=rem.baseline)
    base_f1, before_f1 = rem.baseline.get("f1"), rem.before.get("f1")
    rule = (f"F1 after within {rules.tolerance:.2f} of the F1 before the incident"
            + (f", or at least {rules.min_gain:.2f} above the F1 during it" if before_f1 is not None else "")
            + f", on {rules.labelled_rows} labelled rows served by the new version")
    if rem.version is None and rem.shadowing is not None:
        if (now - rem.at).total_seconds() < rules.timeout_minutes * 60:
            return None
        return Verification(**common, passed=False, basis="not_applied", rule=rule,
                            summary=f"version {rem.shadowing} was still in the shadow after "
                                    f"{rules.timeout_minutes:.0f} min; nothing else changed in service")
    if rem.version is None:
        return Verification(**common, passed=False, basis="not_applied", rule=rule,
                            summary=f"{rem.kind} changed nothing in service ({rem.summary or 'no new version'}); "
                                    "the incident goes on")
    if rem.after.n >= rules.labelled_rows:
        f1 = rem.after.f1() or 0.0
        recovered = base_f1 is not None and f1 >= base_f1 - rules.tolerance
        improved = before_f1 is not None and f1 >= before_f1 + rules.min_gain
        after = {"f1": round(f1, 4), "accuracy": round(rem.after.accuracy() or 0.0, 4), "labelled": float(rem.after.n),
                 "drift_windows": float(rem.drift_windows)}
        how = "recovered" if recovered else "improved" if improved else "did not recover"
        ref = f" (before the incident {base_f1:.3f}" + (f", during it {before_f1:.3f})" if before_f1 is not None else ")") \
            if base_f1 is not None else ""
        return Verification(**common, passed=recovered or improved, basis="labels", rows=rem.after.n, after=after,
                            rule=rule, summary=f"version {rem.version} {how}: F1 {f1:.3f} on {rem.after.n} labelled "
                                               f"rows{ref}")
    if (now - rem.at).total_seconds() < rules.timeout_minutes * 60:
        return None
    after = {"predictions": float(rem.predictions), "drift_windows": float(rem.drift_windows),
             "labelled": float(rem.after.n)}
    if rem.predictions >= rules.min_predictions and rem.drift_windows == 0:
        return Verification(**common, passed=True, basis="predictions", rows=rem.predictions, after=after, rule=rule,
                            summary=f"too few labels in {rules.timeout_minutes:.0f} min; {rem.predictions} predictions "
                                    f"by version {rem.version} show no drift")
    return Verification(**common, passed=False, basis="timeout", rows=rem.predictions, after=after, rule=rule,
                        summary=f"after {rules.timeout_minutes:.0f} min: {rem.after.n} labelled rows, "
                                f"{rem.predictions} predictions, {rem.drift_windows} drifting window(s): not verified")


def cleared(incident_id: str, model: str) -> Verification:
    """An incident whose alerts all cleared with no remediation: the monitor saw the condition end."""
    return Verification(incident_id=incident_id, model=model, kind="condition_cleared", passed=True, basis="cleared",
                        rule="every alert of the incident cleared (the monitor's hysteresis: several quiet windows)",
                        summary="the condition ended on its own; the monitor saw quiet windows")
