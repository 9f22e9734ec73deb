"""Rendering: the PDFs' text carries the events' numbers and the ids figures came from."""

import io

import numpy as np
import pandas as pd
from pypdf import PdfReader

from consumers.reports import deployment, drift, incident
from consumers.reports.render import render_pdf
from tests.unit.reports.story import story


def text_of(pdf: bytes) -> str:
    return " ".join(" ".join((page.extract_text() or "").split()) for page in PdfReader(io.BytesIO(pdf)).pages)


def test_the_three_reports_carry_the_numbers_of_their_events():
    s = story(version="4", previous="3")
    events = list(s.values())
    rng = np.random.default_rng(1)
    reference = pd.DataFrame({"mean radius": rng.normal(14, 3, 300)})
    current = pd.DataFrame({"mean radius": rng.normal(17, 3, 200)})

    text = text_of(render_pdf(deployment.deployment_context(events, "4", None)))
    for number in ("0.9721", "0.9512", "+0.0209", "0.9441", "0.9897", "0.3726", "569"):
        assert number in text, number
    assert "logistic_regression" in text and s["trained"].id in text and s["promoted"].id in text

    text = text_of(render_pdf(drift.drift_context(drift.resolve(events, s["alert"].id), reference, current)))
    for number in ("0.4817", "0.3312", "0.2209", "0.0412", "0.6000", "0.8833", "1200"):
        assert number in text, number
    assert "mean radius: reference against current" in text and s["report"].id in text

    text = text_of(render_pdf(incident.incident_context(events, s["alert"].correlation_id)))
    for number in ("0.8833", "0.9561", "0.8712", "0.9634", "+0.0922"):
        assert number in text, number
    assert "alice" in text and "Drift confirmed on the dashboard; retrain." in text
    assert s["completed"].id in text
