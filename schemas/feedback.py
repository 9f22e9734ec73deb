"""Feedback family: ground-truth labels that arrive after the prediction."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from schemas.envelope import Event, Payload

LABEL = "driftline.feedback.label"


class Label(Payload):
    request_id: str = Field(description="The prediction request this label belongs to.")
    model: str = Field("driftline-classifier", description="Registered model name.")
    label: int | str = Field(description="The true class.")


class LabelReceived(Event):
    """The true class of an earlier request became known."""

    topic: ClassVar[str] = LABEL
    type: Literal["driftline.feedback.label.v1"] = "driftline.feedback.label.v1"
    data: Label
