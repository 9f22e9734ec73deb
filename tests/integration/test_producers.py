"""Producers on a real nats-server: CSV publishing, simulated traffic with drift, and late labels."""

from __future__ import annotations

import asyncio

import pytest
from typer.testing import CliRunner

from driftline.cli import app
from infra.bus import Bus
from producers.simulator import Drift, run_simulation, simulate_rows
from producers.traffic_source import builtin_breast_cancer
from schemas import LabelReceived, PredictionRequested
from tests.integration.stored import stored_events

pytestmark = pytest.mark.integration


async def stored_requests(nats_server, n: int) -> list:
    """The first `n` prediction requests a command stored, read with the operator's credential."""
    bus = await Bus.connect(nats_server.url, credential=nats_server.auth.seed_file("operator"))
    try:
        return await stored_events(bus, "driftline.prediction.requested", n)
    finally:
        await bus.close()


async def test_simulated_traffic_drifts_from_the_chosen_row_and_labels_follow(bus):
    frame, target = builtin_breast_cancer()
    drift = Drift(drift_at=20, shift={"mean radius": 3.0})
    summary = await run_simulation(bus, frame, target, model="driftline-classifier", rows=30, rate=500.0, seed=7,
                                   drift=drift, label_delay=0.3)
    assert summary["requests"] == 30 and summary["drifted"] == 10 and summary["labels"] == 30
    requests = await stored_events(bus, "driftline.prediction.requested", 30)
    labels = await stored_events(bus, "driftline.feedback.label", 30)
    expected = list(simulate_rows(frame, target, 30, seed=7, drift=drift))
    assert all(isinstance(r, PredictionRequested) for r in requests)
    assert [r.data.features for r in requests] == [row.features for row in expected]
    assert [r.data.request_id for r in requests] == [f"sim-{summary['run']}-{i}" for i in range(30)]
    by_request = {r.data.request_id: r for r in requests}
    for label, row in zip(sorted(labels, key=lambda e: int(e.data.request_id.rsplit("-", 1)[1])), expected,
                          strict=True):
        assert isinstance(label, LabelReceived) and label.data.label == row.label
        request = by_request[label.data.request_id]
        assert (label.causation_id, label.correlation_id) == (request.id, request.correlation_id)
        assert label.time >= request.time


def test_publish_csv_puts_one_request_per_row(nats_server, provisioned, settings, tmp_path):
    frame, target = builtin_breast_cancer()
    csv = tmp_path / "rows.csv"
    rows = frame.drop(columns=target).head(25)
    rows.insert(0, "request_id", [f"csv-{i}" for i in range(25)])
    rows.to_csv(csv, index=False)
    env = {"DRIFTLINE_NATS_URL": nats_server.url, "DRIFTLINE_DATA_DIR": str(settings.data_dir)}
    result = CliRunner().invoke(app, ["publish", "--csv", str(csv), "--rate", "1000"], env=env)
    assert result.exit_code == 0, result.output
    assert "published 25 prediction requests" in result.output

    requests = asyncio.run(stored_requests(nats_server, 25))
    assert [r.data.request_id for r in requests] == [f"csv-{i}" for i in range(25)]
    assert requests[3].data.features == pytest.approx(rows.drop(columns="request_id").iloc[3].to_dict())


def test_simulate_refuses_drift_options_without_a_drift_row():
    result = CliRunner().invoke(app, ["simulate", "--shift", "mean radius=2"])
    assert result.exit_code == 2 and "--drift-at" in result.output
    result = CliRunner().invoke(app, ["simulate", "--drift-at", "5", "--shift", "mean radius"])
    assert result.exit_code == 2 and "expected FEATURE=NUMBER" in result.output


def test_simulate_takes_the_datas_own_column_names(nats_server, provisioned, settings):
    env = {"DRIFTLINE_NATS_URL": nats_server.url, "DRIFTLINE_DATA_DIR": str(settings.data_dir)}
    result = CliRunner().invoke(app, ["simulate", "--rows", "12", "--rate", "1000", "--label-delay", "0",
                                      "--drift-at", "6", "--shift", "worst concave points=1.0"], env=env)
    assert result.exit_code == 0, result.output

    frame, target = builtin_breast_cancer()  # no champion in this registry: the built-in data, its own names
    expected = list(simulate_rows(frame, target, 12, seed=0, drift=Drift(6, {"worst concave points": 1.0})))
    requests = asyncio.run(stored_requests(nats_server, 12))
    assert list(requests[0].data.features) == [c for c in frame.columns if c != target]
    assert [r.data.features for r in requests] == [row.features for row in expected]
    assert [row.drifted for row in expected] == [False] * 6 + [True] * 6
