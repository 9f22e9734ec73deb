"""Model versions from the audit log: the current champion and how each candidate compared. Pure."""

from __future__ import annotations


def versions(events: list[dict]) -> tuple[str | None, list[dict]]:
    """(champion version, one row per version in order) from trained/promoted/rolled-back events."""
    champion: str | None = None
    rows: dict[str, dict] = {}

    def row(version: str) -> dict:
        return rows.setdefault(str(version), {"version": str(version), "family": "", "metrics": {},
                                              "candidates": [], "trained_at": "", "outcome": "", "reason": ""})

    for ev in events:
        d, kind = ev["data"], ev["type"].split(".")[2]
        if kind == "trained":
            r = row(d["version"])
            best = next((c for c in d.get("candidates", []) if c.get("family") == d.get("best_family")), None)
            r.update(family=d.get("best_family", ""), trained_at=(ev.get("time") or "")[:19].replace("T", " "),
                     metrics=(best or {}).get("metrics", {}), candidates=d.get("candidates", []),
                     selection=d.get("selection_metric", ""), outcome="challenger")
        elif kind == "promoted":
            r = row(d["version"])
            r.update(reason=d.get("reason", ""), challenger=d.get("challenger_metrics", {}),
                     champion_then=d.get("champion_metrics", {}), metric=d.get("metric", ""))
            if d.get("promoted", True):
                champion = str(d["version"])
                r["outcome"] = "promoted"
            else:
                r["outcome"] = "declined"
        elif kind == "rolled_back":
            champion = str(d["to_version"])
            row(d["from_version"])["outcome"] = "rolled back"
            row(d["to_version"]).update(reason=d.get("reason", ""))
    for r in rows.values():
        r["champion"] = r["version"] == champion
    ordered = sorted(rows.values(), key=lambda r: (len(r["version"]), r["version"]), reverse=True)
    return champion, ordered
