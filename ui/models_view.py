"""Model versions from the audit log: the current champion, why each version was trained and how it compared. Pure."""

from __future__ import annotations

TRIGGERS = {"manual": "trained by hand", "startup": "first model", "": ""}


def _trigger(event: dict) -> tuple[str, str | None]:
    """Why a version was trained, in words, and the incident it repairs (its correlation id) if any."""
    trigger = str(event["data"].get("trigger", "manual"))
    if trigger in TRIGGERS:
        return TRIGGERS[trigger], None
    incident = event.get("correlation_id")
    return "retrained to repair an incident", incident if incident and incident != event.get("id") else None


def _comparisons(d: dict) -> list[str]:
    """ "recent traffic (1,200 rows): f1 0.931 vs champion 0.902" per hold-out the promotion judged on."""
    out = []
    for c in d.get("comparisons") or []:
        metric = d.get("metric", "f1")
        mine, theirs = (c.get("challenger_metrics") or {}).get(metric), (c.get("champion_metrics") or {}).get(metric)
        if mine is None:
            continue
        versus = f" vs champion {theirs:.3f}" if theirs is not None else ""
        out.append(f"{c.get('holdout', '?')} hold-out ({c.get('rows', 0):,} rows): {metric} {mine:.3f}{versus}")
    return out


def versions(events: list[dict]) -> tuple[str | None, list[dict]]:
    """(champion version, one row per version in order) from trained/promoted/rolled-back events."""
    champion: str | None = None
    rows: dict[str, dict] = {}

    def row(version: str) -> dict:
        return rows.setdefault(str(version), {"version": str(version), "family": "", "metrics": {}, "candidates": [],
                                              "trained_at": "", "outcome": "", "reason": "", "why_trained": "",
                                              "incident": None, "comparisons": []})

    for ev in events:
        d, kind = ev["data"], ev["type"].split(".")[2]
        if kind == "trained":
            r = row(d["version"])
            best = next((c for c in d.get("candidates", []) if c.get("family") == d.get("best_family")), None)
            why, incident = _trigger(ev)
            r.update(family=d.get("best_family", ""), trained_at=(ev.get("time") or "")[:16].replace("T", " "),
                     metrics=(best or {}).get("metrics", {}), candidates=d.get("candidates", []),
                     selection=d.get("selection_metric", ""), outcome="challenger", why_trained=why, incident=incident)
        elif kind == "promoted":
            # A declined promotion names the version that stays champion; the declined one is the challenger.
            judged = d["version"] if d.get("promoted", True) else d.get("challenger_version") or d["version"]
            r = row(judged)
            r.update(reason=d.get("reason", ""), challenger=d.get("challenger_metrics", {}),
                     champion_then=d.get("champion_metrics", {}), metric=d.get("metric", ""),
                     comparisons=_comparisons(d))
            if d.get("promoted", True):
                champion = str(d["version"])
                r["outcome"] = "promoted" + (f" over v{d['previous_version']}" if d.get("previous_version") else "")
            else:
                if d.get("challenger_version"):  # else an event from before the field: `version` was the declined one
                    champion = str(d["version"])
                r["outcome"] = f"declined; v{champion} stayed champion" if champion else "declined"
        elif kind == "rolled_back":
            champion = str(d["to_version"])
            row(d["from_version"])["outcome"] = f"rolled back to v{d['to_version']}"
            row(d["to_version"]).update(reason=d.get("reason", ""), outcome="champion again")
    for r in rows.values():
        r["champion"] = r["version"] == champion
    ordered = sorted(rows.values(), key=lambda r: (len(r["version"]), r["version"]), reverse=True)
    return champion, ordered
