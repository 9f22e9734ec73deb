"""The trainer against a real MLflow store (SQLite in a temp dir): tracking, lineage, registry, promotion.

One store is trained twice, identically, for the whole module (MLflow on SQLite is slow); the second run must
keep the first run's champion and say why.
"""

from __future__ import annotations

import mlflow
import mlflow.sklearn
import pytest
from mlflow import MlflowClient

from infra.models import (
    CHALLENGER,
    CHAMPION,
    DATASET_HASH_TAG,
    HOLDOUT_ARTIFACT,
    REFERENCE_ARTIFACT,
    TARGET_TAG,
    champion_version,
    load_alias,
    load_run_frame,
)
from infra.settings import Settings
from tests.model_fixtures import breast_cancer_frame
from trainer.api import train
from trainer.pipelines import FAMILIES
from trainer.tracking import SCHEMA_ARTIFACT, SCHEMA_HASH_TAG, SPLIT_SEED_TAG, SUMMARY_ARTIFACT

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    # Two processes, though 569 rows alone would fit in-process: this module covers the parallel path.
    settings = Settings(data_dir=tmp_path_factory.mktemp("trainer") / "data", split_seed=7, train_processes=2)
    published: list = []
    first = train(settings, publish=published.append)
    second = train(settings, publish=published.append)
    return settings, first, second, published


def test_first_training_registers_a_champion_with_four_child_runs(store):
    settings, first, _, _ = store
    assert first.promoted and first.previous_champion is None and "no champion" in first.reason
    assert str(champion_version(settings).version) == first.version == first.champion_version
    children = MlflowClient().search_runs(
        [mlflow.get_experiment_by_name(settings.training_experiment).experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{first.parent_run_id}'",
    )
    assert sorted(run.data.tags["mlflow.runName"] for run in children) == sorted(FAMILIES)
    for run in children:
        assert 0.8 < run.data.metrics["f1"] <= 1 and 0.8 < run.data.metrics["roc_auc"] <= 1
        # Calibration error of the served probabilities, and before calibration, on the hold-out rows.
        assert {"ece", "brier", "ece_uncalibrated", "brier_uncalibrated"} <= set(run.data.metrics)
        assert run.data.params["model.calibration"].startswith("temperature")
        artifacts = {a.path for a in MlflowClient().list_artifacts(run.info.run_id, "plots")}
        assert artifacts == {"plots/confusion_matrix.png", "plots/feature_importance.png"}
    assert {c.family for c in first.candidates} == set(FAMILIES)
    best = max(first.candidates, key=lambda c: (c.metrics["f1"], c.metrics["roc_auc"]))
    assert first.best_family == best.family


def test_second_identical_training_keeps_the_champion_and_says_why(store):
    settings, first, second, _ = store
    assert second.version != first.version
    assert not second.promoted and second.previous_champion == first.version
    assert f"did not beat champion version {first.version}" in second.reason
    assert second.dataset_hash == first.dataset_hash
    client = MlflowClient()
    assert str(client.get_model_version_by_alias(settings.model_name, CHAMPION).version) == first.version
    assert str(client.get_model_version_by_alias(settings.model_name, CHALLENGER).version) == second.version
    assert client.get_run(second.parent_run_id).data.tags["driftline.reason"] == second.reason


def test_events_of_both_trainings_in_order_with_one_correlation_chain_each(store):
    _, first, second, published = store
    kinds = [e.type.split(".")[2] for e in published]
    assert kinds == ["validated", "trained", "promoted"] * 2
    validated, trained, promoted = published[3:]
    assert validated.data.content_hash == second.dataset_hash and validated.data.rows == 569
    assert {trained.correlation_id, promoted.correlation_id} == {validated.id}
    assert len(trained.data.candidates) == 4 and trained.data.version == second.version
    assert all(0 <= c.metrics["ece"] <= 1 and "ece_uncalibrated" in c.metrics for c in trained.data.candidates)
    assert promoted.data.promoted is False and promoted.data.version == first.version
    assert promoted.data.champion_metrics and promoted.data.reason == second.reason
    assert published[2].data.promoted and published[2].data.version == first.version


def test_lineage_hash_schema_and_split_seed_are_on_every_run(store):
    settings, first, _, _ = store
    client = MlflowClient()
    version = client.get_model_version(settings.model_name, first.version)
    for run_id in (first.parent_run_id, version.run_id):
        run = client.get_run(run_id)
        assert run.data.tags[DATASET_HASH_TAG] == first.dataset_hash
        assert run.data.tags[SPLIT_SEED_TAG] == "7" and run.data.params["split_seed"] == "7"
        assert run.data.tags[TARGET_TAG] == "target" and len(run.data.tags[SCHEMA_HASH_TAG]) == 64
        assert "schema.yaml" in {a.path.split("/")[-1] for a in client.list_artifacts(run_id, "validation")}
    summary = mlflow.artifacts.load_dict(f"runs:/{first.parent_run_id}/{SUMMARY_ARTIFACT}")
    assert summary["rows"] == 569 and summary["holdout_rows"] + summary["train_rows"] == 569
    schema = mlflow.artifacts.load_text(f"runs:/{version.run_id}/{SCHEMA_ARTIFACT}")
    assert "mean radius" in schema and (settings.data_dir / "schemas" / "breast_cancer.schema.yaml").is_file()
    reference, holdout = load_run_frame(version.run_id), load_run_frame(version.run_id, HOLDOUT_ARTIFACT)
    assert len(reference) + len(holdout) == 569 and "target" in reference and "target" in holdout
    assert REFERENCE_ARTIFACT.startswith("reference/")


def test_champion_loads_by_alias_uri_and_predicts(store):
    settings, first, _, _ = store
    frame = breast_cancer_frame()
    model = mlflow.sklearn.load_model(f"models:/{settings.model_name}@{CHAMPION}")
    features = frame.drop(columns="target")
    accuracy = (model.predict(features) == frame["target"]).mean()
    assert accuracy > 0.9
    loaded = load_alias(settings)
    assert loaded.version == first.version and loaded.features == list(features.columns)
    assert set(loaded.feature_types.values()) == {"double"} and loaded.classes == [0, 1]
    assert loaded.model.predict_proba(features.head(3)).shape == (3, 2)
    assert type(loaded.model.named_steps["model"]).__name__ == "CalibratedClassifierCV"
