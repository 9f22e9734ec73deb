"""Config family: settings that services apply while they run, changed only by an approved change_config.

A runtime key is the name of the service setting it overrides (DRIFTLINE_<KEY> is its value at start), so a key
means the same in the environment, in a change_config action and on the page. Each key has one owning service;
the bounds below are the contract every owner applies and the executor checks before announcing a change.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from schemas.envelope import Event, Payload

CHANGED = "driftline.config.changed"


class RuntimeConfig(BaseModel):
    """The settings a change_config may set; a key left out keeps its value. Unknown keys are refused."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    monitor_window_events: int | None = Field(None, ge=10, le=1_000_000, description="Predictions per drift window.")
    monitor_window_s: float | None = Field(None, gt=0, le=86_400, description="Longest drift window, in seconds.")
    monitor_idle_close_s: float | None = Field(None, gt=0, le=86_400,
                                               description="A window nobody adds to closes after this long.")
    monitor_false_alarms_per_10k: float | None = Field(
        None, gt=0, le=1_000, description="False alarms per 10,000 events over all drift tests: sets the CUSUM "
                                          "thresholds (lower: higher thresholds, later and surer alerts).")
    monitor_clear_windows: int | None = Field(None, ge=1, le=1_000,
                                              description="Quiet windows after which an open alert clears.")
    monitor_estimated_drop: float | None = Field(None, gt=0, le=1,
                                                 description="Estimated F1 drop that raises an estimated_quality alert.")
    monitor_estimate_min_labels: int | None = Field(None, ge=1, le=1_000_000,
                                                    description="Labelled rows before the estimate is checked.")
    worker_batch: int | None = Field(None, ge=1, le=10_000, description="Most requests a worker predicts in one call.")
    worker_batch_wait_s: float | None = Field(None, ge=0, le=5,
                                              description="How long a worker waits for more requests to batch.")
    gateway_batch_max: int | None = Field(None, ge=1, le=100_000,
                                          description="Most records the gateway coalesces into one model call.")
    gateway_batch_wait_s: float | None = Field(None, ge=0, le=5,
                                               description="Extra wait for more requests before a model call.")


# Which service applies which key (each key has exactly one owner; a test checks it).
OWNERS: dict[str, tuple[str, ...]] = {
    "monitor": ("monitor_window_events", "monitor_window_s", "monitor_idle_close_s", "monitor_false_alarms_per_10k",
                "monitor_clear_windows", "monitor_estimated_drop", "monitor_estimate_min_labels"),
    "worker": ("worker_batch", "worker_batch_wait_s"),
    "gateway": ("gateway_batch_max", "gateway_batch_wait_s"),
}


class ConfigRefused(ValueError):
    """A configuration change that may not be applied; the message names each bad key and why."""


def checked(changes: Any) -> dict[str, Any]:
    """The changes as validated values (strict: "3" is no number, 2.5 no int, but 3 is a float), or ConfigRefused."""
    if not isinstance(changes, dict) or not changes:
        raise ConfigRefused("change_config needs params.config, a non-empty mapping of setting -> value")
    try:
        valid = RuntimeConfig.model_validate(changes)
    except ValidationError as exc:
        known = ", ".join(RuntimeConfig.model_fields)
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}={changes.get(e['loc'][0]) if e['loc'] else ''!r}: "
            f"{'not a runtime setting (known: ' + known + ')' if e['type'] == 'extra_forbidden' else e['msg']}"
            for e in exc.errors())
        raise ConfigRefused(f"configuration refused, nothing applied: {problems}") from None
    return {k: v for k, v in valid.model_dump().items() if k in changes}


def owned(service: str, config: dict[str, Any]) -> dict[str, Any]:
    """The part of a configuration one service applies."""
    return {k: v for k, v in config.items() if k in OWNERS.get(service, ())}


class Change(Payload):
    key: str = Field(description="The setting (its DRIFTLINE_<KEY> environment name, lower case).")
    old: Any = Field(description="Its value before (the last change's, or the executor's setting at start).")
    new: Any = Field(description="Its value from this version on.")
    owner: str = Field(description="The service that applies it.")


class ConfigChange(Payload):
    version: int = Field(description="Configuration version, 1 up; a service applies a version only once and in order.")
    changes: list[Change] = Field(description="What this version changed, old -> new.")
    config: dict[str, Any] = Field(description="Every runtime setting ever changed, at its value in this version: a "
                                               "service starting reads the last event and applies its share.")
    approved_by: str = Field(description="Who approved the change_config action.")
    approval_id: str | None = Field(None, description="The approval that authorised it.")
    action_id: str = Field(description="The change_config action that made this version.")
    reason: str = Field("", description="Why, from the action.")


class ConfigChanged(Event):
    """A new runtime configuration version: each owning service applies its keys without a restart."""

    topic: ClassVar[str] = CHANGED
    type: Literal["driftline.config.changed.v1"] = "driftline.config.changed.v1"
    data: ConfigChange
