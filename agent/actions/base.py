"""What an action gets (context) and gives back (result); each action detects its own earlier effect."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from infra.bus import Bus
from infra.settings import Settings
from schemas import ActionScheduled, ActionSpec, Event, derived_id


@dataclass
class ActionContext:
    settings: Settings
    pool: asyncpg.Pool
    bus: Bus
    scheduled: ActionScheduled
    attempt: int = 1  # > 1: an earlier attempt started and may have had its effect
    train: Callable[..., Any] | None = None  # trainer.api.train, injected so tests can swap it
    promotion: Any = None  # the policy's PromotionRules: which hold-out decides a retrain's promotion

    @property
    def action(self) -> ActionSpec:
        return self.scheduled.data.action

    def derived(self, cls: type[Event], data: Any, key: str = "") -> Event:
        """An event this action emits: id from the action id (a rerun re-emits the same id), incident's correlation."""
        try:  # from the action id: a rerun of the action (another schedule of it) re-emits the same ids
            event_id = derived_id(self.action.action_id, cls.type_name(), key)
        except ValueError:  # an action id that is not a UUID (started by hand): derive from the schedule instead
            event_id = derived_id(self.scheduled.id, cls.type_name(), f"{self.action.action_id}|{key}")
        return self.scheduled.caused(cls, source="agent/executor", data=data, id=event_id)


@dataclass
class ActionResult:
    summary: str
    result: dict[str, Any] = field(default_factory=dict)
    metrics_before: dict[str, float] = field(default_factory=dict)
    metrics_after: dict[str, float] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)  # e.g. ModelPromoted, published with the outcome


Action = Callable[[ActionContext], Awaitable[ActionResult]]
