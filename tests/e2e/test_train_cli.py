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
from tests.unit.trainer.frames import mixed_frame
from trainer.contract import infer
from trainer.datasets import load_dataset

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def driftline(*args: str, data_dir: Path, nats_url: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DRIFTLINE_DATA_DIR": str(data_dir), "DRIFTLINE_NATS_URL": nats_url}
    return subprocess.run([sys.executable, "-m", "driftline", "train", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=280)


async def last_event(nats_url: str, subject: str) -> dict:
    nc = await nats.connect(nats_url)
    try:
        msg = await nc.jetstream().get_last_msg("AUDIT", subject)
        return json.loads(msg.data)
    finally:
        await nc.close()


async def test_broken_csv_exits_non_zero_names_column_and_check_publishes_rejected_trains_nothing(
        tmp_path, nats_server):
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
    assert "column 'x1' failed coerce_dtype('float64'): 2 failing (e.g. 'n.a.')" in result.stderr
    assert "column 'x 2' failed in_range(" in result.stderr and "3 failing (e.g. 1000000000.0)" in result.stderr
    assert "column 'color' failed max_null_rate(" in result.stderr and "nothing was trained" in result.stderr
    event = await last_event(nats_server.url, "driftline.data.rejected")
    assert event["type"] == "driftline.data.rejected.v1" and event["data"]["dataset"] == str(broken)
    failed = {(f["column"], f["check"].split("(")[0]): f["failing_count"] for f in event["data"]["failures"]}
    assert failed == {("x1", "coerce_dtype"): 2, ("x 2", "in_range"): 3, ("color", "max_null_rate"): nulls}
    assert not (data_dir / "mlflow" / "mlflow.db").exists()  # no run, no registry: nothing trained


async def test_fresh_data_dir_trains_a_champion_and_publishes_the_chain(tmp_path, nats_server):
    data_dir = tmp_path / "data"
    result = driftline("--if-no-champion", data_dir=data_dir, nats_url=nats_server.url)

    assert result.returncode == 0, result.stderr
    for family in ("logistic_regression", "random_forest", "xgboost", "lightgbm"):
        assert family in result.stdout
    assert "promoted: version 1 is champion: no champion yet" in result.stdout
    assert "fitting candidates" in result.stderr or "version 1: champion" in result.stderr  # the progress display
    validated = await last_event(nats_server.url, "driftline.data.validated")
    trained = await last_event(nats_server.url, "driftline.model.trained")
    promoted = await last_event(nats_server.url, "driftline.model.promoted")
    assert validated["data"]["rows"] == 569 and trained["data"]["trigger"] == "startup"
    assert {c["family"] for c in trained["data"]["candidates"]} == {"logistic_regression", "random_forest",
                                                                     "xgboost", "lightgbm"}
    assert promoted["data"]["promoted"] is True and promoted["data"]["version"] == "1"
    assert trained["correlation_id"] == promoted["correlation_id"] == validated["id"]


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
