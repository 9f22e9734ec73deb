"""A person's request to deploy a chosen registry version (the page's models view and `driftline deploy`): the
version is looked up in the registry first, so a request for one that does not exist is refused before any
approval exists; the predicted impact compares its held-out figures with the champion's."""

from __future__ import annotations

import asyncio
from typing import NamedTuple

from infra.models import CHAMPION, champion_version, configure_mlflow, registered_versions, registry_version
from infra.settings import Settings
from schemas.action import ActionSpec
from schemas.envelope import new_id


class DeployRefused(ValueError):
    """A deployment that cannot be asked for; the message names the version and what to do."""


class DeployRequest(NamedTuple):
    action: ActionSpec
    summary: str
    impact: str


def _look_up(settings: Settings, version: str) -> tuple[dict, dict | None]:
    configure_mlflow(settings)
    target = registry_version(settings, version)
    if target is None:
        known = registered_versions(settings)
        have = f"its versions are {', '.join(known)}" if known else "it has no version yet"
        raise DeployRefused(f"version {version!r} of {settings.model_name} does not exist in the registry ({have})")
    champion = None
    mv = champion_version(settings, CHAMPION)
    if mv is not None:
        champion = registry_version(settings, str(mv.version))
    if champion is not None and champion["version"] == target["version"]:
        raise DeployRefused(f"version {target['version']} of {settings.model_name} is already the champion")
    return target, champion


async def look_up(settings: Settings, version: str) -> tuple[dict, dict | None]:
    """(the version, the champion or None) from the registry; DeployRefused when it cannot be deployed."""
    return await asyncio.to_thread(_look_up, settings, version.strip())


def _f1(entry: dict | None, metric: str) -> float | None:
    metrics = (entry or {}).get("metrics", {})
    value = metrics.get(metric, metrics.get(f"best_{metric}"))
    return float(value) if value is not None else None


def deploy_request(user: str, model: str, target: dict, champion: dict | None, reason: str,
                   metric: str = "f1") -> DeployRequest:
    """The action (deploy_model, one approver who is not `user`) and what the approver is shown."""
    version = target["version"]
    action = ActionSpec(action_id=new_id(), kind="deploy_model", model=model, params={"version": version},
                        tier="one_approver", reason=reason)
    mine, theirs = _f1(target, metric), _f1(champion, metric)
    figures = f"Its {metric} on its own hold-out is {mine:.3f}" if mine is not None else \
        f"The registry has no {metric} for it"
    if champion is None:
        against = "; no champion serves now."
    elif theirs is not None:
        against = f"; champion version {champion['version']} has {theirs:.3f} on its own ({mine - theirs:+.3f})." \
            if mine is not None else f"; champion version {champion['version']} has {theirs:.3f} on its own."
    else:
        against = f"; champion version {champion['version']} has no recorded {metric}."
    impact = (f"Version {version} becomes champion and gateways and workers serve it at once. {figures}{against} "
              "Hold-outs differ between versions: judge the figures with that in mind.")
    why = f": {reason}" if reason else ""
    return DeployRequest(action, f"{user} asks to deploy {model} version {version}{why}", impact)
