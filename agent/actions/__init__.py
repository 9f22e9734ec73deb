"""One module per action kind; ACTIONS maps a kind to the coroutine that carries it out."""

from __future__ import annotations

from agent.actions.base import Action, ActionContext, ActionResult
from agent.actions.cache import clear_cache
from agent.actions.config import change_config
from agent.actions.delete_data import delete_data
from agent.actions.notify import log_error, send_alert
from agent.actions.registry import deploy_model, rollback_model
from agent.actions.retrain import retrain_model
from agent.actions.scale import scale_service

ACTIONS: dict[str, Action] = {
    "log_error": log_error,
    "send_alert": send_alert,
    "scale_service": scale_service,
    "clear_cache": clear_cache,
    "change_config": change_config,
    "deploy_model": deploy_model,
    "rollback_model": rollback_model,
    "retrain_model": retrain_model,
    "delete_data": delete_data,  # runs only after two different people (checked inside), never from the agent
}

__all__ = ["ACTIONS", "Action", "ActionContext", "ActionResult"]
