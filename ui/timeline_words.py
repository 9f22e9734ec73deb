"""An incident's timeline in plain words: who did what to which model and version, why, with what outcome; ids
and hashes stay in the audit log (and `driftline audit replay`). Pure."""

from __future__ import annotations

from typing import Any

from ui.words import ISSUES, action_words, alert_title, who

VIA = {"web": "on the page", "cli": "in the terminal"}


def _short(doc_type: str) -> str:
    return doc_type.removeprefix("driftline.").rsplit(".v", 1)[0]


class Chain:
    """What earlier events of the chain tell later ones: which action an approval or an action id stands for."""

    def __init__(self) -> None:
        self.approvals: dict[str, dict] = {}  # approval id -> action
        self.actions: dict[str, dict] = {}  # action id -> action

    def note(self, short: str, d: dict) -> None:
        if short == "approval.requested":
            self.approvals[str(d.get("approval_id"))] = d.get("action") or {}
            self.actions[str((d.get("action") or {}).get("action_id"))] = d.get("action") or {}
        elif short == "action.scheduled":
            self.actions[str((d.get("action") or {}).get("action_id"))] = d.get("action") or {}

    def action(self, d: dict) -> str:
        known = self.actions.get(str(d.get("action_id"))) or {"kind": d.get("kind"), "model": d.get("model")}
        return action_words(known, d.get("model") or known.get("model"))

    def approval(self, d: dict) -> str:
        found = self.approvals.get(str(d.get("approval_id")))
        return action_words(found) if found else "the request"


def line(doc: dict[str, Any], chain: Chain) -> tuple[str, str, str] | None:
    """(who, what, why) of one event; None for a type the page has no words for (the stored story is shown)."""
    short, d, source = _short(str(doc.get("type", ""))), doc.get("data") or {}, doc.get("source")
    chain.note(short, d)
    if short == "alert.raised":
        return who(source), f"raised an alert: {alert_title(d)}", d.get("summary", "")
    if short == "alert.cleared":
        return who(source), f"{str(d.get('kind', '')).replace('_', ' ')} condition cleared", d.get("summary", "")
    if short == "diagnosis.made":
        again = " again" if (d.get("revision") or 1) > 1 else ""
        return (who(source), f"diagnosed {ISSUES.get(d.get('issue'), d.get('issue'))}{again}, severity "
                f"{d.get('severity', '?')}", d.get("headline") or d.get("reasoning", ""))
    if short == "approval.requested":
        return who(d.get("requested_by")), f"asked for approval to {action_words(d.get('action'))}", d.get("summary", "")
    if short == "approval.decided":
        verb = "approved" if d.get("decision") == "approve" else "rejected"
        return (d.get("decided_by", "?"), f"{verb} the request to {chain.approval(d)} {VIA.get(d.get('via'), '')}"
                .strip(), d.get("comment", ""))
    if short == "approval.refused":
        return (d.get("attempted_by", "?"), f"was refused: could not {d.get('decision', '?')} the request to "
                f"{chain.approval(d)}", d.get("detail", ""))
    if short == "approval.expired":
        return "agent", f"the request to {chain.approval(d)} expired", "nobody decided in time"
    if short == "action.scheduled":
        by = d.get("approved_by")
        return (who(by if by == "policy" else source), f"scheduled: {action_words(d.get('action'))}",
                f"approved by {by}" if by and by != "policy" else (d.get("action") or {}).get("reason", ""))
    if short == "action.started":
        return who(source), f"started: {chain.action(d)}", ""
    if short == "action.completed":
        if d.get("kind") == "send_alert" and source == "consumers/notifier":
            return who(source), f"sent the {(d.get('result') or {}).get('channel', '')} notification", d.get("summary", "")
        version = (d.get("result") or {}).get("version")
        return who(source), f"done: {chain.action(d)}" + (f" (v{version})" if version else ""), d.get("summary", "")
    if short == "action.failed":
        return who(source), f"failed: {chain.action(d)}", d.get("error", "")
    if short == "action.escalated":
        return who(source), f"asked a person to look ({d.get('severity', '?')})", d.get("reason", "")
    if short == "action.verified":
        verdict = "verified" if d.get("passed") else "verification failed"
        if d.get("kind") == "condition_cleared":
            return who(source), f"{verdict}: the condition cleared", d.get("summary", "")
        return who(source), f"{verdict}: {chain.action(d)}", d.get("summary", "")
    if short == "model.trained":
        return (who(source), f"trained {d.get('model', '?')} v{d.get('version', '?')} ({d.get('best_family', '')})",
                "")
    if short == "model.promoted":
        if d.get("promoted", True):
            return who(source), f"v{d.get('version', '?')} became champion", d.get("reason", "")
        challenger = d.get("challenger_version")
        return (who(source), f"kept v{d.get('version', '?')} as champion" + (f"; v{challenger} declined" if challenger
                                                                              else ""), d.get("reason", ""))
    if short == "model.rolled_back":
        return who(source), f"rolled back v{d.get('from_version')} → v{d.get('to_version')}", d.get("reason", "")
    return None


def timeline(rows: list[dict]) -> list[dict]:
    """Audit log rows (with their canonical event) -> rows with `who`, `what`, `why` in plain words."""
    chain, out = Chain(), []
    for row in rows:
        said = line(row["doc"], chain) if row.get("doc") else None
        who_, what, why = said or (row.get("actor", ""), row.get("story", ""), "")
        outcome = row.get("outcome", "")
        if said and row["doc"].get("type") == "driftline.diagnosis.made.v1":
            proposed = [action_words(p) for p in row["doc"].get("data", {}).get("proposed_actions") or []]
            outcome = "proposed: " + ", ".join(proposed) if proposed else "nothing proposed"
        out.append({**row, "who": who_, "what": what, "why": why, "outcome": outcome})
    return out
