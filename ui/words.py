"""The page's plain words: actions, people and services by name, models by version, the numbers behind a diagnosis
with their meaning. Pure; read from the events as the audit log stored them."""

from __future__ import annotations

from collections.abc import Callable

from markupsafe import Markup, escape

ACTIONS = {
    "retrain_model": "retrain {model}", "rollback_model": "roll {model} back to v{to_version}",
    "deploy_model": "deploy {model} v{version}", "change_config": "change the configuration",
    "scale_service": "scale the {service} to {replicas}", "send_alert": "alert the team", "log_error": "log it",
    "clear_cache": "reload the champion everywhere", "delete_data": "delete the data of {dataset}",
}
ISSUES = {"data_drift": "data drift", "prediction_drift": "prediction drift", "concept_drift": "concept drift",
          "regression": "a regression of the new version", "serving": "a serving problem",
          "data_quality": "a data quality problem", "unknown": "an unknown cause"}
ALERTS = {"data_drift": "Data drift", "prediction_drift": "Prediction drift", "quality_drift": "Quality drop",
          "estimated_quality": "Estimated quality drop", "concept_drift": "Concept drift", "latency": "Slow serving",
          "error_rate": "Serving errors", "data_quality": "Data quality", "consumer_lag": "Processing lag",
          "external": "External alert"}
SERVICES = {"agent/diagnoser": "agent", "agent/gate": "agent", "agent/executor": "agent (executor)",
            "agent/approvals": "agent", "producers/webhooks": "webhook", "consumers/monitor": "monitor", "consumers/notifier": "notifier",
            "consumers/audit": "audit", "trainer": "trainer", "policy": "agent (automatic)"}


def who(name: str | None) -> str:
    """A service by its role, a person by their name."""
    name = str(name or "?")
    return SERVICES.get(name, name.split("/")[-1] if "/" in name else name)


def action_words(action: dict | None, model: str | None = None) -> str:
    """{"kind": "rollback_model", "params": {"to_version": "1"}} -> "roll driftline-classifier back to v1"."""
    action = action or {}
    kind = str(action.get("kind", "?"))
    fields = {"model": model or action.get("model") or "the model", "service": "service", "replicas": "?",
              "to_version": "?", "version": "?", "dataset": "?", **(action.get("params") or {})}
    try:
        return ACTIONS.get(kind, kind.replace("_", " ")).format(**fields)
    except (KeyError, IndexError, ValueError):
        return kind.replace("_", " ")


def _pct(v: float) -> str:
    return f"{v:.0%}"


def _pts(v: float) -> str:
    return f"{v * 100:.1f} points"


def _f3(v: float) -> str:
    return f"{v:.3f}"


def _count(v: float) -> str:
    return f"{v:,.0f}"


SIGNALS: dict[str, tuple[str, Callable[[float], str]]] = {
    "drifted_importance": ("the model's sensitivity carried by the drifted features", _pct),
    "prediction_shift": ("change in the share predicted positive", _pts),
    "reference_positive_rate": ("share predicted positive on the reference", _pct),
    "positive_rate": ("share predicted positive in the last window", _pct),
    "f1_reference": ("F1 on the reference hold-out", _f3),
    "f1_labelled": ("F1 on labelled recent predictions", _f3),
    "f1_estimated": ("F1 estimated before labels", _f3),
    "quality_drop": ("F1 lost on labelled recent predictions (beyond sampling error)", _f3),
    "estimated_drop": ("F1 lost by the estimate before labels", _f3),
    "labelled": ("labelled recent predictions", _count),
    "minutes": ("minutes since the incident opened", lambda v: f"{v:.0f}"),
    "magnitude": ("times past its threshold", lambda v: f"{v:.1f}×"),
    "estimate_invalid": ("the estimate no longer holds (concept change)", lambda v: "yes" if v else "no"),
}


def signal_rows(signals: dict[str, float] | None) -> list[tuple[str, str]]:
    """(meaning, value as read) for each measured signal, known ones first in a fixed order."""
    signals = signals or {}
    known = [(SIGNALS[k][0], SIGNALS[k][1](signals[k])) for k in SIGNALS if k in signals]
    return known + [(k.replace("_", " "), f"{v:.4g}") for k, v in sorted(signals.items()) if k not in SIGNALS]


def alert_title(alert: dict) -> str:
    """ "Data drift on driftline-classifier v1: mean radius, worst radius" from an alert's data."""
    kind = ALERTS.get(alert.get("kind", ""), str(alert.get("kind", "alert")).replace("_", " "))
    version = f" v{alert['model_version']}" if alert.get("model_version") else ""
    features = ", ".join(alert.get("features") or [])
    return f"{kind} on {alert.get('model', '?')}{version}" + (f": {features}" if features else "")


def resolution(status: str, last_word: dict | None) -> str:
    """Who or what ended (or holds) an incident, from its status and the event that set it."""
    d = (last_word or {}).get("data") or {}
    kind = str((last_word or {}).get("type", "")).removeprefix("driftline.").rsplit(".v", 1)[0]
    if kind == "action.verified":
        if d.get("kind") == "condition_cleared":
            return "the condition cleared by itself" + (f": {d['summary']}" if d.get("summary") else "")
        what = action_words({"kind": d.get("kind")}, d.get("model"))
        verdict = "verified" if d.get("passed") else "verification failed"
        return f"{verdict}: {what}" + (f" ({d['summary']})" if d.get("summary") else "")
    if kind == "approval.decided":
        verb = "approved" if d.get("decision") == "approve" else "rejected"
        return f"{verb} by {d.get('decided_by', '?')}" + (f": {d['comment']}" if d.get("comment") else "")
    if kind == "approval.expired":
        return "nobody decided in time"
    if kind == "action.escalated":
        return "a person must look" + (f" ({d['severity']})" if d.get("severity") else "")
    return WAITING.get(status, status)


WAITING = {"open": "", "waiting for approval": "waiting for an approver", "remediating": "waiting for the remediation",
           "verifying": "waiting for the verification on new traffic"}


def incident_view(row: dict) -> dict:
    """An incidents row (with its alert, latest diagnosis and deciding event) in the words the page shows."""
    alert = (row.get("alert") or {}).get("data") or {}
    diagnosis = (row.get("diagnosis") or {}).get("data") or {}
    return {**row, "title": alert_title(alert) if alert else row.get("title", ""),
            "severity": diagnosis.get("severity", ""),
            "headline": diagnosis.get("headline") or alert.get("summary", ""),
            "resolved_by": resolution(row.get("status", ""), row.get("last_word"))}


def names(text: str) -> Markup:
    """A sentence of the agent's, escaped, with the `names` it quotes in bold (the words module marks them so)."""
    parts = str(escape(text or "")).split("`")
    return Markup("".join(f"<b>{p}</b>" if i % 2 else p for i, p in enumerate(parts)))
