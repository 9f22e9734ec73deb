"""Prediction family: requests from producers, answers from the serving path."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from schemas.envelope import Event, Payload

FeatureValue = float | int | str | bool | None

REQUESTED = "driftline.prediction.requested"
MADE = "driftline.prediction.made"
FAILED = "driftline.prediction.failed"
SHADOWED = "driftline.prediction.shadowed"


class PredictionRequest(Payload):
    request_id: str = Field(description="Caller's id for this request; labels are joined to predictions by it.")
    model: str = Field("driftline-classifier", description="Registered model name to predict with.")
    features: dict[str, FeatureValue] = Field(description="Feature name to value, one record; the names are the "
                                                          "model's input schema, i.e. the training data's own column "
                                                          "names (`mean radius`).")


class PredictionRequested(Event):
    """A producer asks for one prediction over the bus."""

    topic: ClassVar[str] = REQUESTED
    type: Literal["driftline.prediction.requested.v1"] = "driftline.prediction.requested.v1"
    data: PredictionRequest


class PredictionOutput(Payload):
    request_id: str = Field(description="The request this prediction answers.")
    model: str = Field(description="Registered model name.")
    model_version: str = Field(description="Registry version that made the prediction.")
    features: dict[str, FeatureValue] = Field(description="The features the model saw.")
    predicted_class: int | str = Field(description="The predicted class label.")
    probabilities: dict[str, float] = Field(description="Class label (as text) to probability.")
    latency_ms: float = Field(description="Time spent serving the request, in milliseconds.")
    channel: Literal["http", "bus"] = Field(description="How the request arrived.")


class PredictionMade(Event):
    """The serving path answered a request; monitors read these."""

    topic: ClassVar[str] = MADE
    type: Literal["driftline.prediction.made.v1"] = "driftline.prediction.made.v1"
    data: PredictionOutput


class PredictionError(Payload):
    request_id: str = Field(description="The request that failed.")
    model: str = Field(description="Registered model name.")
    error: str = Field(description="What went wrong, in words a caller can act on.")
    fields: list[str] = Field(default_factory=list, description="Input fields at fault, if any.")


class PredictionFailed(Event):
    """A request could not be answered."""

    topic: ClassVar[str] = FAILED
    type: Literal["driftline.prediction.failed.v1"] = "driftline.prediction.failed.v1"
    data: PredictionError


class ShadowOutput(Payload):
    request_id: str = Field(description="The request the champion answered (its prediction.made has the same id).")
    model: str = Field(description="Registered model name.")
    champion_version: str = Field(description="Registry version that answered the caller.")
    challenger_version: str = Field(description="Registry version scored in the shadow (never seen by the caller).")
    alias: str = Field(description="Registry alias that made it a challenger: challenger or challenger-<name>.")
    predicted_class: int | str = Field(description="The challenger's predicted class label.")
    probabilities: dict[str, float] = Field(description="The challenger's class label (as text) to probability.")
    channel: Literal["http", "bus"] = Field(description="How the request arrived.")


class PredictionShadowed(Event):
    """A challenger scored a request off the response path, after the champion answered it; the monitor pairs it
    with the champion's prediction once the label arrives."""

    topic: ClassVar[str] = SHADOWED
    type: Literal["driftline.prediction.shadowed.v1"] = "driftline.prediction.shadowed.v1"
    data: ShadowOutput
