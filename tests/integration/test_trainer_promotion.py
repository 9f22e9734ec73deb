"""Promotion over an existing champion, retraining with production rows, CSV data, and rejected data.

These train one or two families in this process (train_processes=1) to stay quick; the four-family path in
parallel processes is covered by test_trainer.py.
"""

from __future__ import annotations

import asyncio

import mlflow
import mlflow.sklearn
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from infra.models import (
    CHAMPION,
    HOLDOUT_ARTIFACT,
    RECENT_ARTIFACT,
    REFERENCE_ARTIFACT,
    champion_version,
    configure_mlflow,
    load_alias,
    load_run_frame,
    monitoring_artifacts,
)
from infra.settings import Settings
from tests.model_fixtures import register_simple_model
from tests.unit.trainer.frames import mixed_frame
from trainer.api import DataInvalid, ensure_champion, train, train_async
from trainer.metrics import score

pytestmark = pytest.mark.integration
QUICK = ["logistic_regression"]


@pytest.fixture
def quick_settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path / "data", train_processes=1)


def test_challenger_that_beats_a_weak_champion_on_the_same_holdout_is_promoted(quick_settings):
    weak = register_simple_model(quick_settings, C=1e-6)  # nearly a constant: a poor F1
    published = []
    outcome = train(quick_settings, families=QUICK, publish=published.append, trigger="test")
    assert outcome.promoted and outcome.previous_champion == weak
    assert f"beats champion version {weak}" in outcome.reason
    assert str(champion_version(quick_settings).version) == outcome.version
    promoted = published[-1]
    assert promoted.data.previous_version == weak and promoted.data.version == outcome.version
    # Both sides were scored on the challenger's own hold-out split.
    mv = MlflowClient().get_model_version(quick_settings.model_name, outcome.version)
    holdout = load_run_frame(mv.run_id, HOLDOUT_ARTIFACT)
    champion_f1 = promoted.data.champion_metrics["f1"]
    weak_model = mlflow.sklearn.load_model(f"models:/{quick_settings.model_name}/{weak}")
    proba = weak_model.predict_proba(holdout.drop(columns="target"))
    assert score(holdout["target"], proba, [0, 1])["f1"] == pytest.approx(champion_f1)
    assert promoted.data.challenger_metrics["f1"] > champion_f1


def test_ensure_champion_trains_only_when_there_is_none(quick_settings):
    first = ensure_champion(quick_settings, families=QUICK)
    assert first is not None and first.promoted
    run = MlflowClient().get_run(first.parent_run_id)
    assert run.data.tags["driftline.trigger"] == "startup"
    assert ensure_champion(quick_settings, families=QUICK) is None
    assert len(MlflowClient().search_model_versions(f"name='{quick_settings.model_name}'")) == 1


def test_csv_with_text_categories_gaps_and_text_labels_plus_production_rows(tmp_path, quick_settings):
    csv = tmp_path / "mixed.csv"
    mixed_frame(300, seed=3).to_csv(csv, index=False)
    extra = mixed_frame(40, seed=4)
    published = []

    async def publish(event):  # an async callback, as the executor's bus.publish is
        await asyncio.sleep(0)
        published.append(event)

    outcome = asyncio.run(train_async(quick_settings, dataset=str(csv), target="label", extra_rows=extra,
                                      families=["logistic_regression", "xgboost"], publish=publish))
    assert {c.family for c in outcome.candidates} == {"logistic_regression", "xgboost"} and not outcome.unpublished
    assert (tmp_path / "mixed.schema.yaml").is_file()  # inferred once, saved beside the data
    assert [e.type.split(".")[2] for e in published] == ["validated", "trained", "promoted"]
    assert published[0].data.rows == 340 and published[0].data.summary["extra_rows"] == 40
    loaded = load_alias(quick_settings)
    assert loaded.features == ["x1", "x 2", "color"] and loaded.feature_types["color"] == "string"
    assert loaded.classes == ["no", "yes"]
    reference = load_run_frame(loaded.run_id)
    holdout = load_run_frame(loaded.run_id, HOLDOUT_ARTIFACT)
    assert len(holdout) == 75 and len(reference) == 225 + 40  # production rows train, never judge
    request = pd.DataFrame({"x1": [0.5, None], "x 2": [2.0, 3.0], "color": ["red", None]})
    assert set(loaded.model.predict(request)) <= {"no", "yes"}


def test_invalid_data_emits_rejected_and_trains_nothing(tmp_path, quick_settings):
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    frame = mixed_frame(200)
    frame.to_csv(good, index=False)
    schema = tmp_path / "contract.yaml"
    from trainer.contract import infer
    from trainer.datasets import load_dataset

    infer(load_dataset(str(good), "label"), quick_settings).save(schema)
    frame.loc[:60, "x1"] = None
    frame.to_csv(bad, index=False)
    published = []
    with pytest.raises(DataInvalid) as caught:
        train(quick_settings, dataset=str(bad), target="label", schema=schema, families=QUICK,
              publish=published.append)
    [event] = published
    assert event.type == "driftline.data.rejected.v1" and event is caught.value.event
    [failure] = event.data.failures
    assert failure.column == "x1" and failure.check.startswith("max_null_rate") and failure.failing_count == 61
    configure_mlflow(quick_settings)
    assert mlflow.get_experiment_by_name(quick_settings.training_experiment) is None
    assert champion_version(quick_settings, CHAMPION) is None


def test_a_retrain_after_drift_is_judged_on_todays_traffic_not_the_pre_drift_hold_out(tmp_path, quick_settings):
    rng = np.random.default_rng(11)

    def frame(rows: int, changed: bool) -> pd.DataFrame:
        x1, x2 = rng.normal(0, 1, rows), rng.uniform(0, 10, rows)
        color = rng.choice(["red", "green", "blue"], rows)
        score = (x1 - 0.8) if changed else x1 + (color == "red") * 1.5 - 0.1 * x2  # the relation changed
        return pd.DataFrame({"x1": x1, "x2": x2, "color": color, "label": np.where(score > 0, "yes", "no")})

    csv = tmp_path / "before.csv"
    frame(400, changed=False).to_csv(csv, index=False)
    first = train(quick_settings, dataset=str(csv), target="label", families=QUICK)
    production = frame(500, changed=True)  # labelled production rows, oldest first
    published = []
    old_rule = train(quick_settings, dataset=str(csv), target="label", extra_rows=production, families=QUICK,
                     publish=published.append, promotion={"decide_on": "reference", "margin": 0.0})
    assert not old_rule.promoted  # the champion failing today still wins on the pre-drift hold-out
    rule = {"decide_on": "recent", "recent_share": 0.3, "min_recent_rows": 100, "margin": 0.0,
            "max_reference_drop": 0.5}
    today = train(quick_settings, dataset=str(csv), target="label", extra_rows=production, families=QUICK,
                  publish=published.append, promotion=rule)
    assert today.promoted and today.previous_champion == first.version
    promoted = published[-1]
    assert [(c.holdout, c.rows) for c in promoted.data.comparisons] == [("reference", 100), ("recent", 150)]
    recent = promoted.data.comparisons[1]
    assert recent.challenger_metrics["f1"] > recent.champion_metrics["f1"] + 0.1
    assert "on the 150 most recent labelled production rows" in promoted.data.reason
    assert "newest 30%" in promoted.data.rule
    validated = [e for e in published if e.type.startswith("driftline.data.validated")][-1]
    assert validated.data.summary["extra_rows"] == 350 and validated.data.summary["recent_holdout_rows"] == 150

    # The monitors now compare traffic with today's rows that judged the promotion, not with the training part that
    # mixes the data before the drift with the traffic after it (a repaired model would be found drifting at once).
    from consumers.monitor.reference import load_champion_profile

    current = champion_version(quick_settings, CHAMPION)
    assert monitoring_artifacts(current.run_id) == (RECENT_ARTIFACT, RECENT_ARTIFACT)
    kept = load_run_frame(current.run_id, RECENT_ARTIFACT)
    pd.testing.assert_frame_equal(kept, production.tail(150).reset_index(drop=True), check_dtype=False)
    profile, reference = load_champion_profile(quick_settings)
    assert profile.version == today.version and profile.meta["reference"] == "recent production rows"
    assert len(reference) == 150 and profile.meta["holdout_rows"] == 150
    first_run = MlflowClient().get_model_version(quick_settings.model_name, first.version).run_id
    assert monitoring_artifacts(first_run) == (REFERENCE_ARTIFACT, HOLDOUT_ARTIFACT)  # no production rows: as before
