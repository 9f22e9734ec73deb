"""The contract between Driftline's parts: event models, subjects and streams. Imports nothing of the project."""

from schemas.action import (
    ActionCompleted,
    ActionEscalated,
    ActionFailed,
    ActionScheduled,
    ActionSpec,
    ActionStarted,
    ActionVerified,
)
from schemas.agent import DiagnosisMade
from schemas.approval import ApprovalDecided, ApprovalExpired, ApprovalRefused, ApprovalRequested
from schemas.audit import AuditCheckpoint
from schemas.config import ConfigChanged
from schemas.data import DataRejected, DataValidated
from schemas.envelope import Event, Payload, derived_id, new_id
from schemas.feedback import LabelReceived
from schemas.model import ModelPromoted, ModelReloadRequested, ModelRolledBack, ModelShadowDecided, ModelTrained
from schemas.monitoring import AlertCleared, AlertRaised, DriftReported
from schemas.prediction import PredictionFailed, PredictionMade, PredictionRequested, PredictionShadowed
from schemas.registry import EVENT_TYPES, InvalidEvent, parse_event

__all__ = [
    "EVENT_TYPES",
    "ActionCompleted",
    "ActionEscalated",
    "ActionFailed",
    "ActionScheduled",
    "ActionSpec",
    "ActionStarted",
    "ActionVerified",
    "AlertCleared",
    "AlertRaised",
    "ApprovalDecided",
    "ApprovalExpired",
    "ApprovalRefused",
    "ApprovalRequested",
    "AuditCheckpoint",
    "ConfigChanged",
    "DataRejected",
    "DataValidated",
    "DiagnosisMade",
    "DriftReported",
    "Event",
    "InvalidEvent",
    "LabelReceived",
    "ModelPromoted",
    "ModelReloadRequested",
    "ModelRolledBack",
    "ModelShadowDecided",
    "ModelTrained",
    "Payload",
    "PredictionFailed",
    "PredictionMade",
    "PredictionRequested",
    "PredictionShadowed",
    "derived_id",
    "new_id",
    "parse_event",
]
