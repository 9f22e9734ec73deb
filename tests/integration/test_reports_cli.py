"""`driftline report` as a user runs it (and the builder behind it): a real nats-server, an MLflow store with a registered champion, events
published by the test; the PDFs carry the events' numbers and MLflow's evidence, and one page of each is kept."""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pypdf import PdfReader

from consumers.reports.builder import ReportBuilder
from infra.models import configure_mlflow
from tests.integration.test_notifier import predictions_in
from tests.model_fixtures import register_simple_model
from tests.unit.reports.story import story

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def pdf_text(path: Path) -> str:
    return " ".join(" ".join((p.extract_text() or "").split()) for p in PdfReader(io.BytesIO(path.read_bytes())).pages)


def driftline(settings, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DRIFTLINE_NATS_URL": settings.nats_url, "DRIFTLINE_DATA_DIR": str(settings.data_dir)}
    return subprocess.run([sys.executable, "-m", "driftline", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=180)


async def test_report_command_writes_the_three_reports(bus, settings, tmp_path, artifacts_dir):
    version = await asyncio.to_thread(register_simple_model, settings)
    s = story(version=version)
    await bus.publish_many(predictions_in(s["report"].data.window.start, version))
    await bus.publish_many(list(s.values()))
    out = tmp_path / "out"

    # Two runs of the command (each process imports MLflow and WeasyPrint: seconds); the rest in-process.
    runs = await asyncio.gather(
        asyncio.to_thread(driftline, settings, "report", "deployment", "-o", str(out / "deployment.pdf")),
        asyncio.to_thread(driftline, settings, "report", "incident", "no-such-incident", "-o", str(out / "x.pdf")),
    )
    assert runs[0].returncode == 0, runs[0].stderr
    assert f"deployment report {version} written to" in runs[0].stdout
    assert runs[1].returncode == 1 and "no events with correlation id 'no-such-incident'" in runs[1].stderr
    assert not (out / "x.pdf").exists()
    configure_mlflow(settings)
    builder = ReportBuilder(settings, bus.js)
    built_drift = await builder.build("drift")
    built_incident = await builder.build("incident", s["alert"].correlation_id)
    shutil.copyfile(built_drift.path, out / "drift.pdf")
    shutil.copyfile(built_incident.path, out / "incident.pdf")

    deployment = pdf_text(out / "deployment.pdf")  # default: the registry's champion
    assert f"Deployment report: driftline-classifier v{version}" in deployment
    for number in ("0.9721", "0.9512", "0.9960", "0.9441", "+0.0209"):
        assert number in deployment
    assert "Confusion matrix on 143 hold-out rows" in deployment and "Feature importance" in deployment

    drift = pdf_text(out / "drift.pdf")  # default: the latest DriftReported or AlertRaised
    assert s["alert"].id in drift and "0.4817" in drift and "Current rows charted 150" in drift
    assert f"MLflow reference of version {version}" in drift

    incident = pdf_text(out / "incident.pdf")
    assert "alice" in incident and "+0.0922" in incident and "closed" in incident
    assert built_drift.ident == s["alert"].id and built_drift.model_version == version

    for kind in ("deployment", "drift", "incident"):
        subprocess.run(["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "2", str(out / f"{kind}.pdf"),
                        str(artifacts_dir / f"report-cli-{kind}")], check=True)
