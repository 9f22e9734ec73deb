"""The runtime configuration page's content: every runtime setting at its value now, and each version's changes.
Pure: from the config.changed events (newest first) and this process's settings."""

from __future__ import annotations

from schemas.config import OWNERS, RuntimeConfig


def _when(time: str | None) -> str:
    return (time or "")[:19].replace("T", " ")


def current(changes: list[dict], settings) -> list[dict]:
    """One row per runtime key: its value now, who applies it, and the version that last set it (None: the
    setting the services started with; shown as this page's own, since they share one environment by default)."""
    latest = changes[0]["config"] if changes else {}
    last_set: dict[str, dict] = {}
    for change in reversed(changes):  # oldest first: later versions overwrite
        for c in change.get("changes", []):
            last_set[c["key"]] = change
    rows = []
    for owner, keys in OWNERS.items():
        for key in keys:
            by = last_set.get(key)
            rows.append({"key": key, "owner": owner, "value": latest.get(key, getattr(settings, key, None)),
                         "version": by["version"] if by else None, "approved_by": by["approved_by"] if by else "",
                         "about": RuntimeConfig.model_fields[key].description or ""})
    return rows


def history(changes: list[dict]) -> list[dict]:
    """One row per version, newest first: when, who approved, what changed old -> new, and why."""
    return [{"version": c["version"], "time": _when(c.get("time")), "approved_by": c.get("approved_by", ""),
             "approval_id": c.get("approval_id"), "reason": c.get("reason", ""),
             "changes": [(x["key"], x["old"], x["new"], x["owner"]) for x in c.get("changes", [])]}
            for c in changes]
