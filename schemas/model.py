"""Model family: training results and registry alias moves."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from schemas.envelope import Event, Payload

TRAINED = "driftline.model.trained"
PROMOTED = "driftline.model.promoted"
ROLLED_BACK = "driftline.model.rolled_back"
RELOAD_REQUESTED = "driftline.model.reload_requested"


class Candidate(Payload):
    family: str = Field(description="Model family, e.g. logistic_regression, random_forest, xgboost, lightgbm.")
    run_id: str = Field(description="MLflow child run id.")
    metrics: dict[str, float] = Field(
        description="Held-out metrics: accuracy, precision, recall, f1, roc_auc; and the calibration error of the "
                    "served probabilities, ece (top-label expected calibration error) and brier, with "
                    "ece_uncalibrated and brier_uncalibrated before calibration.")


class TrainingResult(Payload):
    model: str = Field(description="Registered model name.")
    version: str = Field(description="Registry version of the best candidate (alias challenger).")
    parent_run_id: str = Field(description="MLflow parent run id.")
    best_family: str = Field(description="Family of the best candidate.")
    selection_metric: str = Field(description="Metric the best candidate was chosen by.")
    candidates: list[Candidate] = Field(description="Every candidate with its metrics.")
    dataset: str = Field(description="Data set trained on.")
    dataset_hash: str = Field(description="sha256 of the data set's content.")
    split_seed: int = Field(description="Seed of the stratified train/test split.")
    trigger: str = Field("manual", description="Why training ran: manual, startup, or an action id.")


class ModelTrained(Event):
    """A training run finished and registered its best candidate as challenger."""

    topic: ClassVar[str] = TRAINED
    type: Literal["driftline.model.trained.v1"] = "driftline.model.trained.v1"
    data: TrainingResult


class Comparison(Payload):
    holdout: str = Field(description="Which hold-out: reference (from the training data) or recent (latest labelled "
                                     "production rows, split by time, never trained on).")
    rows: int = Field(description="Rows in the hold-out.")
    challenger_metrics: dict[str, float] = Field(description="The challenger on it.")
    champion_metrics: dict[str, float] = Field(default_factory=dict, description="The champion on it.")


class Promotion(Payload):
    model: str = Field(description="Registered model name.")
    version: str = Field(description="Version that now holds the champion alias.")
    previous_version: str | None = Field(None, description="Version that held it before, if any.")
    promoted: bool = Field(True, description="False when the challenger did not beat the champion.")
    reason: str = Field(description="Why it was (or was not) promoted, in words.")
    metric: str = Field("f1", description="Metric the comparison used.")
    challenger_metrics: dict[str, float] = Field(default_factory=dict, description="Challenger on held-out data.")
    champion_metrics: dict[str, float] = Field(default_factory=dict, description="Champion on the same data.")
    challenger_version: str | None = Field(None, description="Version that was compared (alias challenger).")
    comparisons: list[Comparison] = Field(default_factory=list,
                                          description="Every hold-out the two were compared on; the rule says which decided.")
    rule: str = Field("", description="The promotion rule applied, in words.")


class ModelPromoted(Event):
    """The champion alias moved to a new version (or a promotion was declined, promoted=False)."""

    topic: ClassVar[str] = PROMOTED
    type: Literal["driftline.model.promoted.v1"] = "driftline.model.promoted.v1"
    data: Promotion


class Rollback(Payload):
    model: str = Field(description="Registered model name.")
    from_version: str = Field(description="Version that was champion.")
    to_version: str = Field(description="Version that is champion now.")
    reason: str = Field(description="Why the rollback happened.")


class ModelRolledBack(Event):
    """The champion alias moved back to an earlier version."""

    topic: ClassVar[str] = ROLLED_BACK
    type: Literal["driftline.model.rolled_back.v1"] = "driftline.model.rolled_back.v1"
    data: Rollback


class Reload(Payload):
    model: str = Field(description="Registered model name.")
    version: str | None = Field(None, description="The champion version at the request (None: whatever the alias says).")
    reason: str = Field("", description="Why, e.g. the action that asked.")


class ModelReloadRequested(Event):
    """Every serving process (gateways, workers, monitors) drops the model it holds and loads the champion again
    from the registry: what the clear_cache action does."""

    topic: ClassVar[str] = RELOAD_REQUESTED
    type: Literal["driftline.model.reload_requested.v1"] = "driftline.model.reload_requested.v1"
    data: Reload


SHADOW_DECIDED = "driftline.model.shadow_decided"


class ShadowDecision(Payload):
    model: str = Field(description="Registered model name.")
    challenger_version: str = Field(description="The challenger the test judged.")
    champion_version: str = Field(description="The champion it was paired with (its predictions on the same requests).")
    alias: str = Field(description="Registry alias that made it a challenger: challenger or challenger-<name>.")
    decision: Literal["promote", "keep", "inconclusive"] = Field(
        description="promote: the challenger is better; keep: it is worse, the champion stays; inconclusive: the "
                    "budget of labelled pairs ran out first, the champion stays.")
    metric: str = Field("accuracy", description="The metric the pairs compare (per-row correctness).")
    pairs: int = Field(description="Labelled pairs (champion and challenger on the same request) the test read.")
    discordant: int = Field(description="Pairs where exactly one of the two was right.")
    challenger_wins: int = Field(description="Discordant pairs where only the challenger was right.")
    statistic: float = Field(description="log of the mixture likelihood ratio (mSPRT) against no difference.")
    threshold: float = Field(description="log(1 / (2 alpha)): the statistic decides when it reaches this.")
    alpha: float = Field(description="Bound on the probability of a wrong promotion, however often the test is read.")
    budget: int = Field(description="Labelled pairs after which the test stops: inconclusive.")
    difference: float = Field(description="Challenger minus champion accuracy on the pairs.")
    difference_lower: float = Field(description="Lower end of the difference's confidence sequence.")
    difference_upper: float = Field(description="Upper end of the difference's confidence sequence.")
    band_level: float = Field(description="Confidence level of the band, 1 - 2 alpha.")
    reason: str = Field(description="The decision in words.")


class ModelShadowDecided(Event):
    """The paired sequential test of a shadowing challenger decided: promote (proposed through the policy), keep
    the champion, or inconclusive after its budget of labelled pairs."""

    topic: ClassVar[str] = SHADOW_DECIDED
    type: Literal["driftline.model.shadow_decided.v1"] = "driftline.model.shadow_decided.v1"
    data: ShadowDecision
