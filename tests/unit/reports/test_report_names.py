"""Ids become report file names only when they are safe names: "../" never reaches a path."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from consumers.reports.builder import ReportBuilder
from consumers.reports.names import BadReportName, file_name
from consumers.reports.service import AutoReports
from infra.consumer import Rejected
from infra.settings import Settings
from schemas import AlertRaised

UNSAFE = ["../../etc/passwd", "..", "a/b", "a\\b", ".hidden", "x" * 200, "a'b", "", "a\x00b", "%2e%2e"]


@pytest.mark.parametrize("ident", UNSAFE)
def test_an_unsafe_id_is_no_file_name(ident, tmp_path):
    with pytest.raises(BadReportName, match="not a safe name"):
        file_name("incident", ident)
    with pytest.raises(BadReportName):
        ReportBuilder(Settings(data_dir=tmp_path), js=None).path_for("drift", ident)


def test_event_ids_and_versions_are_safe_names():
    assert file_name("drift", "0190a000-0000-7000-8000-000000000001") == "drift-0190a000-0000-7000-8000-000000000001.pdf"
    assert file_name("deployment", "12") == "deployment-v12.pdf"
    with pytest.raises(BadReportName, match="unknown report kind"):
        file_name("../x", "1")


def test_the_report_builder_dead_letters_an_alert_whose_id_is_a_path(tmp_path):
    settings = Settings(data_dir=tmp_path, reports_log_mlflow=False)
    alert = AlertRaised(id="../../../tmp/owned", source="mallory", subject="m", data=dict(
        kind="data_drift", model="m", fingerprint="f", statistic="psi", value=1, threshold=0.5, detector="psi"))
    auto = AutoReports(settings, ReportBuilder(settings, js=None))
    with pytest.raises(Rejected, match="not a safe name"):  # the runner dead-letters a Rejected message
        asyncio.run(auto.handle([SimpleNamespace(event=alert)]))
    assert not list(tmp_path.rglob("*owned*"))
