"""Data family: the verdict of validation before training."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from schemas.envelope import Event, Payload

VALIDATED = "driftline.data.validated"
REJECTED = "driftline.data.rejected"


class DatasetValidated(Payload):
    dataset: str = Field(description="Where the data came from, e.g. builtin:breast_cancer or a file path.")
    content_hash: str = Field(description="sha256 of the data set's canonical content.")
    rows: int = Field(description="Number of rows validated.")
    columns: list[str] = Field(description="Column names, target included.")
    target: str = Field(description="Name of the target column.")
    schema_path: str | None = Field(None, description="Schema file the data was checked against.")
    summary: dict[str, Any] = Field(default_factory=dict, description="Validation summary (null rates, balance...).")


class DataValidated(Event):
    """A data set passed validation and may be trained on."""

    topic: ClassVar[str] = VALIDATED
    type: Literal["driftline.data.validated.v1"] = "driftline.data.validated.v1"
    data: DatasetValidated


class CheckFailure(Payload):
    column: str | None = Field(description="Column at fault; None for a data-set-wide check.")
    check: str = Field(description="The check that failed, e.g. in_range(0, 10).")
    failing_count: int = Field(description="How many values failed it.")
    examples: list[Any] = Field(default_factory=list, description="A few failing values.")


class DatasetRejected(Payload):
    dataset: str = Field(description="Where the data came from.")
    content_hash: str = Field(description="sha256 of the data set's canonical content.")
    rows: int = Field(description="Number of rows read.")
    failures: list[CheckFailure] = Field(description="Every failed check.")
    schema_path: str | None = Field(None, description="Schema file the data was checked against (where to allow more).")


class DataRejected(Event):
    """A data set failed validation; nothing was trained on it."""

    topic: ClassVar[str] = REJECTED
    type: Literal["driftline.data.rejected.v1"] = "driftline.data.rejected.v1"
    data: DatasetRejected
