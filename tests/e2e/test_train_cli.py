"""`driftline train` as a person (or `driftline up`) runs it: a real process, a real nats-server, a temp data dir."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nats
import pytest

from infra.processes import free_port
from infra.settings import Settings
from tests.model_fixtures import register_simple_model
from tests.unit.trainer.frames import mixed_frame, tumours
from trainer.contract import infer
from trainer.datasets import load_dataset

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def driftline(*args: str, data_dir: Path, nats_url: str) -> subprocess.CompletedProcess:
    # Without MLflow's own variables: a module-scoped fixture elsewhere may have exported another test's store.
    env = {name: value for name, value in os.environ.items() if not name.startswith("MLFLOW_")}
    env |= {"DRIFTLINE_DATA_DIR": str(data_dir), "DRIFTLINE_NATS_URL": nats_url}
    return subprocess.run([sys.executable, "-m", "driftline", "train", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=280)


async def last_event(nats_server, subject: str) -> dict:
    nc = await nats.connect(nats_server.url, **nats_server.auth.options("operator"))
    try:
        msg = await nc.jetstream().get_last_msg("AUDIT", subject)
        return json.loads(msg.data)
    finally:
        await nc.close()


async def test_broken_csv_exits_non_zero_names_column_and_check_publishes_rejected_trains_nothing(
        tmp_path, nats_server, provisioned):
    good, broken, schema = tmp_path / "good.csv", tmp_path / "broken.csv", tmp_path / "good.schema.yaml"
    frame = mixed_frame(200)
    frame.to_csv(good, index=False)
    infer(load_dataset(str(good), "label"), Settings(data_dir=tmp_path)).save(schema)
    frame["x1"] = frame["x1"].astype(object)
    frame.loc[[1, 2], "x1"] = "n.a."  # wrong type
    frame.loc[[5, 6, 7], "x 2"] = 1e9  # out of range
    frame.loc[20:100, "color"] = None  # too many nulls
    frame.to_csv(broken, index=False)
    nulls = int(frame["color"].isna().sum())
    data_dir = tmp_path / "data"

    result = driftline("--dataset", str(broken), "--target", "label", "--schema", str(schema),
                       data_dir=data_dir, nats_url=nats_server.url)

    assert result.returncode == 1, result.stderr
    assert "column 'x1' failed numeric_type: 2 non-numeric values (e.g. 'n.a.')" in result.stderr
    assert "column 'x 2' failed in_range(" in result.stderr and "3 failing (e.g. 1000000000.0)" in result.stderr
    assert "column 'color' failed max_null_rate(" in result.stderr and "nothing was trained" in result.stderr
    event = await last_event(nats_server, "driftline.data.rejected")
    assert event["type"] == "driftline.data.rejected.v1" and event["data"]["dataset"] == str(broken)
    failed = {(f["column"], f["check"].split("(")[0]): f["failing_count"] for f in event["data"]["failures"]}
    assert failed == {("x1", "numeric_type"): 2, ("x 2", "in_range"): 3, ("color", "max_null_rate"): nulls}
    assert not (data_dir / "mlflow" / "mlflow.db").exists()  # no run, no registry: nothing trained


async def test_fresh_data_dir_trains_a_champion_and_publishes_the_chain(tmp_path, nats_server, provisioned):
    data_dir = tmp_path / "data"
    result = driftline("--if-no-champion", data_dir=data_dir, nats_url=nats_server.url)

    assert result.returncode == 0, result.stderr
    for family in ("logistic_regression", "random_forest", "xgboost", "lightgbm"):
        assert family in result.stdout
    assert "promoted: version 1 is champion: no champion yet" in result.stdout
    assert "fitting candidates" in result.stderr or "version 1: champion" in result.stderr  # the progress display
    validated = await last_event(nats_server, "driftline.data.validated")
    trained = await last_event(nats_server, "driftline.model.trained")
    promoted = await last_event(nats_server, "driftline.model.promoted")
    assert validated["data"]["rows"] == 569 and trained["data"]["trigger"] == "startup"
    assert {c["family"] for c in trained["data"]["candidates"]} == {"logistic_regression", "random_forest",
                                                                     "xgboost", "lightgbm"}
    assert promoted["data"]["promoted"] is True and promoted["data"]["version"] == "1"
    assert trained["correlationid"] == promoted["correlationid"] == validated["id"]  # CloudEvents extension names


def test_no_bus_is_said_clearly_and_an_existing_champion_means_nothing_to_do(tmp_path):
    settings = Settings(data_dir=tmp_path / "data")
    register_simple_model(settings)
    result = driftline("--if-no-champion", data_dir=settings.data_dir, nats_url=f"nats://127.0.0.1:{free_port()}")
    assert result.returncode == 0, result.stderr
    assert "no bus reachable" in result.stderr and "events will NOT be published" in result.stderr
    assert "a champion exists already; nothing trained" in result.stdout


def test_csv_without_target_is_a_usage_error(tmp_path):
    csv = tmp_path / "d.csv"
    mixed_frame(60).to_csv(csv, index=False)
    result = driftline("--dataset", str(csv), data_dir=tmp_path / "data", nats_url=f"nats://127.0.0.1:{free_port()}")
    assert result.returncode == 2 and "a CSV data set needs --target COLUMN" in result.stderr


def test_json_document_data_dir_flag_and_mlflow_tracking_uri(tmp_path, nats_server, provisioned):
    """`train --json` prints one document; `--data-dir` is a flag; MLFLOW_TRACKING_URI picks the store when
    DRIFTLINE_MLFLOW_TRACKING_URI is unset (it used to be ignored: the model landed in the data dir's store)."""
    from mlflow import MlflowClient

    csv, data_dir, store = tmp_path / "d.csv", tmp_path / "data", tmp_path / "elsewhere" / "mlflow.db"
    mixed_frame(200).to_csv(csv, index=False)
    store.parent.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DRIFTLINE_", "MLFLOW_"))}
    env.update(DRIFTLINE_NATS_URL=nats_server.url, MLFLOW_TRACKING_URI=f"sqlite:///{store}", PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-m", "driftline", "train", "--dataset", str(csv), "--target", "label",
                           "--json", "--data-dir", str(data_dir)], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=280)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)  # the whole of stdout is one document; progress went to stderr
    assert doc["trained"] is True and doc["version"] == "1" and doc["promoted"] is True
    assert {c["family"] for c in doc["candidates"]} == {"logistic_regression", "random_forest", "xgboost", "lightgbm"}
    assert doc["best_family"] in {c["family"] for c in doc["candidates"]} and doc["events_published"] is True
    assert not (data_dir / "mlflow" / "mlflow.db").exists()
    uri = f"sqlite:///{store}"
    champion = MlflowClient(tracking_uri=uri, registry_uri=uri).get_model_version_by_alias("driftline-classifier",
                                                                                         "champion")
    assert str(champion.version) == "1" and champion.run_id


async def test_polluted_columns_of_a_first_csv_are_each_named_once_with_what_to_do_and_published(tmp_path, nats_server, provisioned):
    """Issue 16's case: no schema yet, so it is inferred from the polluted file itself, and still refuses it."""
    frame = tumours()
    frame["mean radius"] = frame["mean radius"].astype(object)
    frame.loc[::7, "mean radius"] = "abc"
    frame.loc[frame.sample(frac=0.7, random_state=1).index, "mean texture"] = None
    frame["customer"] = [f"C-{i:05d}" for i in range(len(frame))]
    csv = tmp_path / "tumours.csv"
    frame.to_csv(csv, index=False)
    data_dir = tmp_path / "data"

    result = driftline("--dataset", str(csv), "--target", "target", data_dir=data_dir, nats_url=nats_server.url)

    assert result.returncode == 1, result.stderr
    lines = [line.strip() for line in result.stderr.splitlines()]
    for expected in ("- column 'mean radius' failed numeric_type: 82 non-numeric values (e.g. 'abc')",
                     "- column 'mean texture' failed max_null_rate(0.5): 398 null values (69.9% of 569 rows)",
                     "- column 'customer' failed max_categories(100): more than 100 distinct values "
                     "(e.g. 'C-00000', 'C-00001', 'C-00002', 'C-00003', 'C-00004')"):
        assert lines.count(expected) == 1, result.stderr
    assert f"schema file: {tmp_path / 'tumours.schema.yaml'}" in lines and "what to do:" in lines
    assert "Traceback" not in result.stderr
    event = await last_event(nats_server, "driftline.data.rejected")
    failed = {(f["column"], f["check"]): f["failing_count"] for f in event["data"]["failures"]}
    assert failed == {("mean radius", "numeric_type"): 82, ("mean texture", "max_null_rate(0.5)"): 398,
                      ("customer", "max_categories(100)"): 101}
    assert event["data"]["schema_path"] == str(tmp_path / "tumours.schema.yaml")
    assert not (data_dir / "mlflow" / "mlflow.db").exists()


def test_a_malformed_schema_file_is_one_clear_line_and_a_usage_error(tmp_path):
    csv, schema = tmp_path / "d.csv", tmp_path / "d.schema.yaml"
    mixed_frame(60).to_csv(csv, index=False)
    schema.write_text("target: label\nclasses: [no, yes]\ncolumns:\n  x1: {kind: number}\nmin_rows: 10\n")
    result = driftline("--dataset", str(csv), "--target", "label", "--schema", str(schema),
                       data_dir=tmp_path / "data", nats_url=f"nats://127.0.0.1:{free_port()}")
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [f"error: schema file {schema} is not a valid contract: columns.x1.kind: Input should be "
                      "'numeric' or 'categorical' (got 'number'); min_class_share: required"]
    assert "Traceback" not in result.stderr
