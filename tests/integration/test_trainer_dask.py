"""Training on Dask (issue 19): a LocalCluster of two worker processes started here, bound to 127.0.0.1.

One CSV is trained on twice, in this process (backend local) and on the cluster (backend dask), each into its
own MLflow store; both models are then scored on rows neither saw. The Dask champion is loaded the way serving
loads it (`infra.models`). A polluted copy of the CSV is validated in partitions and must get the verdict the
local backend gives.
"""

from __future__ import annotations

import mlflow
import mlflow.sklearn
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from infra.models import configure_mlflow, load_alias
from infra.settings import Settings
from trainer.api import DataInvalid, train
from trainer.dask_cluster import local_cluster
from trainer.metrics import score

# Two trainings and a cluster start-up: ~80 s on an idle 2-core machine, several times that on a loaded one.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]
FAMILIES = ["logistic_regression", "xgboost", "lightgbm"]
ROWS, UNSEEN = 40_000, 20_000


def tabular(rows: int, seed: int = 11) -> pd.DataFrame:
    """make_classification plus what real tables have: a text category, gaps, text labels."""
    from sklearn.datasets import make_classification

    X, y = make_classification(rows, n_features=8, n_informative=5, n_redundant=1, flip_y=0.05, random_state=seed)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(8)])
    frame["plan"] = np.array(["basic", "plus", "pro", "team"])[np.digitize(X[:, 0] + X[:, 6], [-1, 0, 1])]
    frame.loc[frame.index % 37 == 0, "x3"] = np.nan
    frame["churned"] = np.where(y == 1, "yes", "no")
    return frame


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with local_cluster(2, local_directory=str(tmp_path_factory.mktemp("dask"))) as running:
        yield running


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    frame = tabular(ROWS + UNSEEN)
    frame.iloc[:ROWS].to_csv(folder / "churn.csv", index=False)
    return folder / "churn.csv", frame.iloc[ROWS:].reset_index(drop=True)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, cluster, data):
    csv, _ = data
    base = tmp_path_factory.mktemp("stores")
    local = Settings(data_dir=base / "local", train_processes=1, split_seed=5)
    on_dask = Settings(data_dir=base / "dask", split_seed=5, train_backend="dask",
                       dask_scheduler=cluster.scheduler_address, dask_blocksize="512KB", dask_sample_rows=6000)
    events: list = []
    outcomes = {
        "local": train(local, dataset=str(csv), target="churned", schema=base / "local.schema.yaml",
                       families=FAMILIES),
        "dask": train(on_dask, dataset=str(csv), target="churned", schema=base / "dask.schema.yaml",
                      families=FAMILIES, publish=events.append),
    }
    return {"local": local, "dask": on_dask}, outcomes, events


def unseen_auc(settings: Settings, run_id: str, unseen: pd.DataFrame) -> float:
    configure_mlflow(settings)
    model = mlflow.sklearn.load_model(f"runs:/{run_id}/model")
    proba = model.predict_proba(unseen.drop(columns="churned"))
    return score(unseen["churned"], proba, list(model.classes_))["roc_auc"]


def test_distributed_families_match_single_process_roc_auc_within_0_005(trained, data):
    settings, outcomes, _ = trained
    _, unseen = data
    for family in ("xgboost", "lightgbm"):
        aucs = {backend: unseen_auc(settings[backend], next(c.run_id for c in outcomes[backend].candidates
                                                            if c.family == family), unseen)
                for backend in ("local", "dask")}
        assert abs(aucs["dask"] - aucs["local"]) <= 0.005, (family, aucs)
        assert aucs["dask"] > 0.9


def test_the_dask_champion_loads_and_serves_through_infra_models_like_a_local_one(trained, data):
    settings, outcomes, _ = trained
    _, unseen = data
    configure_mlflow(settings["dask"])
    champion = load_alias(settings["dask"])
    assert champion.version == outcomes["dask"].version == "1" and outcomes["dask"].promoted
    assert champion.features == [*(f"x{i}" for i in range(8)), "plan"] and list(champion.classes) == ["no", "yes"]
    assert champion.feature_types["plan"] == "string" and champion.feature_types["x0"] == "double"
    model = champion.model.named_steps["model"]
    inner = getattr(model, "model_", model)  # text labels: XGBoost answers through EncodedLabels
    assert type(inner).__name__ in ("XGBClassifier", "LGBMClassifier") and inner.get_params()["n_jobs"] == 1
    proba = champion.model.predict_proba(unseen.drop(columns="churned").head(50))
    assert proba.shape == (50, 2) and np.allclose(proba.sum(axis=1), 1)


def test_runs_carry_the_backend_the_rows_each_family_saw_and_the_lineage(trained):
    settings, outcomes, events = trained
    outcome = outcomes["dask"]
    configure_mlflow(settings["dask"])
    client = MlflowClient()
    parent = client.get_run(outcome.parent_run_id).data
    assert parent.tags["driftline.backend"] == "dask" and parent.tags["driftline.dataset_hash"] == outcome.dataset_hash
    version = client.get_model_version(settings["dask"].model_name, outcome.version)
    assert version.tags["driftline.backend"] == "dask"
    params = {c.family: client.get_run(c.run_id).data.params for c in outcome.candidates}
    train_rows = int(params["xgboost"]["model.train_rows"])
    assert 29_000 < train_rows < 31_000  # 75% of 40,000, split per partition
    assert params["xgboost"]["model.backend"] == params["lightgbm"]["model.backend"] == "dask"
    assert params["lightgbm"]["model.train_rows"] == str(train_rows) and params["xgboost"]["model.workers"] == "2"
    assert params["logistic_regression"]["model.backend"] == "dask-sample"  # no distributed form: the sample
    assert params["logistic_regression"]["model.train_rows"] == "6000"
    validated, trained_event, promoted = events
    assert validated.data.rows == ROWS and validated.data.summary["backend"] == "dask"
    assert validated.data.summary["partitions"] > 2 and validated.data.summary["train_rows"] == train_rows
    assert validated.data.summary["holdout_sample_rows"] == 6000
    assert trained_event.correlation_id == promoted.correlation_id == validated.id


def test_polluted_data_in_partitions_gets_the_local_verdict(trained, data, tmp_path):
    settings, _, _ = trained
    csv, _ = data
    frame = pd.read_csv(csv)
    frame["x1"] = frame["x1"].astype(object)
    frame.loc[frame.index % 7 == 3, "x1"] = "abc"  # in every partition
    frame.loc[frame.index % 10 < 7, "x5"] = np.nan  # 70% empty
    frame["account"] = [f"A{i}" for i in range(len(frame))]
    polluted = tmp_path / "polluted.csv"
    frame.to_csv(polluted, index=False)
    verdicts = {}
    for backend in ("local", "dask"):
        with pytest.raises(DataInvalid) as raised:
            train(settings[backend], dataset=str(polluted), target="churned", schema=tmp_path / f"{backend}.yaml",
                  families=["xgboost"])
        verdicts[backend] = raised.value.failures
    assert verdicts["dask"] == verdicts["local"]
    assert {(f.column, f.check) for f in verdicts["dask"]} == {
        ("x1", "numeric_type"), ("x5", "max_null_rate(0.5)"), ("account", "max_categories(100)")}
    assert (tmp_path / "dask.yaml").read_text() == (tmp_path / "local.yaml").read_text()  # one inferred contract
