"""Who did what, why, and with what outcome: one line of story per audit event, from the event alone."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class StoryLine:
    actor: str
    what: str
    why: str
    outcome: str


def _action(spec: dict) -> str:
    params = ", ".join(f"{k}={v}" for k, v in sorted((spec.get("params") or {}).items()))
    return f"{spec.get('kind', '?')}({params})" if params else str(spec.get("kind", "?"))


def tell(doc: dict[str, Any]) -> StoryLine:
    """The story of one event document (a parsed envelope); unknown types get a generic line, and a document it
    cannot tell (a well-formed envelope whose fields have the wrong types) a line that says so: never an exception,
    since the projector chains every stored message and must not stop on one."""
    try:
        return _tell(doc)
    except Exception as exc:  # noqa: BLE001 (any field of any type may arrive; the line names what broke)
        short = str(doc.get("type", "invalid")).removeprefix("driftline.").rsplit(".v", 1)[0]
        return StoryLine(str(doc.get("source") or "?"), short, f"{UNTOLD}: {type(exc).__name__}: {exc}"[:300],
                         UNTOLD)


UNTOLD = "untold"


def _tell(doc: dict[str, Any]) -> StoryLine:
    etype = str(doc.get("type", "invalid"))
    d = doc.get("data") if isinstance(doc.get("data"), dict) else {}
    source = str(doc.get("source", ""))
    short = etype.removeprefix("driftline.").rsplit(".v", 1)[0]
    if short == "approval.requested":
        action = d.get("action") or {}
        return StoryLine(d.get("requested_by", source), f"asked approval for {_action(action)}",
                         d.get("summary", ""), "pending")
    if short == "approval.decided":
        verdict = "approved" if d.get("decision") == "approve" else "rejected"
        return StoryLine(d.get("decided_by", "?"), f"{verdict} request {d.get('approval_id', '?')} via {d.get('via')}",
                         d.get("comment", ""), verdict)
    if short == "approval.refused":
        return StoryLine(d.get("attempted_by", "?"), f"tried to {d.get('decision', '?')} {d.get('approval_id', '?')}",
                         d.get("detail", ""), f"refused: {d.get('reason', '?')}")
    if short == "approval.expired":
        return StoryLine(source, f"request {d.get('approval_id', '?')} expired", "nobody decided in time", "expired")
    if short == "action.scheduled":
        return StoryLine(d.get("approved_by", source), f"scheduled {_action(d.get('action') or {})}",
                         (d.get("action") or {}).get("reason", ""), "scheduled")
    if short == "action.started":
        return StoryLine(source, f"started {d.get('kind', '?')} {d.get('action_id', '')}", "", "running")
    if short == "action.completed":
        return StoryLine(source, f"completed {d.get('kind', '?')} {d.get('action_id', '')}", d.get("summary", ""),
                         "completed")
    if short == "action.failed":
        return StoryLine(source, f"{d.get('kind', '?')} {d.get('action_id', '')} failed", d.get("error", ""), "failed")
    if short == "action.escalated":
        return StoryLine(source, f"escalated ({d.get('severity', '?')})", d.get("reason", ""), "escalated")
    if short == "alert.raised":
        return StoryLine(source, f"raised {d.get('kind', '?')} alert on {d.get('model', '?')}",
                         d.get("summary") or f"{d.get('statistic')}={d.get('value')} > {d.get('threshold')}", "alert")
    if short == "action.verified":
        verdict = "verified" if d.get("passed") else "verification failed"
        return StoryLine(source, f"{verdict}: {d.get('kind', '?')} on {d.get('model', '?')}", d.get("summary", ""),
                         verdict)
    if short == "alert.cleared":
        return StoryLine(source, f"cleared {d.get('kind', '?')} alert", d.get("summary", ""), "cleared")
    if short == "diagnosis.made":
        revision = f", revision {d['revision']}" if (d.get("revision") or 1) > 1 else ""
        return StoryLine(source, f"diagnosed {d.get('issue', '?')} ({d.get('severity', '?')}{revision})",
                         d.get("headline") or d.get("reasoning", ""), "proposed " + ", ".join(
                             p.get("kind", "?") for p in d.get("proposed_actions") or []))
    if short == "model.trained":
        return StoryLine(source, f"trained {d.get('model', '?')} v{d.get('version', '?')} ({d.get('best_family')})",
                         f"trigger: {d.get('trigger', '')}", "challenger")
    if short == "model.promoted":
        if d.get("promoted", True):
            return StoryLine(source, f"promoted v{d.get('version', '?')} to champion", d.get("reason", ""), "champion")
        challenger = d.get("challenger_version") or "the challenger"
        challenger = f"v{challenger}" if str(challenger).isdigit() else challenger
        return StoryLine(source, f"declined {challenger}, v{d.get('version', '?')} stays champion", d.get("reason", ""),
                         "declined")
    if short == "model.shadow_decided":
        verdicts = {"promote": "challenger better: promotion proposed", "keep": "challenger worse: champion stays",
                    "inconclusive": "inconclusive: champion stays"}
        return StoryLine(source, f"shadow test of v{d.get('challenger_version', '?')} against champion "
                                 f"v{d.get('champion_version', '?')} decided {d.get('decision', '?')} after "
                                 f"{d.get('pairs', '?')} labelled pairs", d.get("reason", ""),
                         verdicts.get(d.get("decision"), str(d.get("decision"))))
    if short == "model.rolled_back":
        return StoryLine(source, f"rolled back v{d.get('from_version')} -> v{d.get('to_version')}",
                         d.get("reason", ""), "champion")
    if short == "monitoring.drift_report":
        return StoryLine(source, f"drift report on v{d.get('model_version', '?')}",
                         f"share drifted {d.get('share_drifted', 0):.2f}", "report")
    if short == "config.changed":
        changes = ", ".join(f"{c.get('key')} {c.get('old')} -> {c.get('new')}" for c in d.get("changes") or [])
        return StoryLine(d.get("approved_by", source), f"configuration version {d.get('version', '?')}: {changes}",
                         d.get("reason", ""), "applied")
    if short == "audit.checkpoint":  # whether the signature holds is `audit verify`'s to say, with the public key
        signed = f"signed by key {d.get('key_id')}" if d.get("signature") else "unsigned"
        return StoryLine(source, f"checkpoint at sequence {d.get('last_sequence')}",
                         f"head {str(d.get('head_hash'))[:12]}, {signed}", "claimed")
    if short.startswith("data."):
        return StoryLine(source, short.replace(".", " "), str(d.get("reason", d.get("summary", ""))), short.split(".")[1])
    return StoryLine(source or "?", short, "", "")
