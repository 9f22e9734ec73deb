"""Schemathesis fuzzes `driftline serve gateway` from the gateway's own OpenAPI document: every operation, through
its phases (the document's examples, boundary values, generated requests both schema-valid and schema-violating,
and stateful sequences), with a fixed seed and a bounded number of cases per operation.

Every check runs on every answer: no 5xx; status, content type, headers and body as the document declares them
for that operation; schema-violating requests refused; the API key enforced where the document says; unsupported
methods refused. One is off (positive_data_acceptance), for the reason in ARGS.

Schemathesis runs as its command-line tool: its pytest integration (from_fixture) does not run under pytest 9.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.integration.served import API_KEY, serving
from tests.model_fixtures import register_simple_model

pytestmark = pytest.mark.integration

ARGS = [
    "--seed", "16", "--generation-deterministic", "--max-examples", "15",
    "--checks", "all",
    # JSON Schema cannot say "request_ids as long as records" or "a tensor's data as long as its shape says", so a
    # schema-valid body can still be refused (with a declared 400/422 naming the field): no failure of the gateway.
    "--exclude-checks", "positive_data_acceptance",
    "--workers", "1", "--request-timeout", "20", "--no-color", "--output-truncate", "false",
]


def test_the_gateway_answers_only_as_its_openapi_document_says(tmp_path):
    with serving(tmp_path, register_simple_model, DRIFTLINE_ALERTMANAGER_TOKEN="am-token",
                 DRIFTLINE_EVIDENTLY_WEBHOOK_SECRET="ev-secret") as served:
        run = subprocess.run([sys.executable, "-m", "schemathesis.cli", "run", f"{served.gateway}/openapi.json",
                              "--header", f"X-API-Key: {API_KEY}", *ARGS],
                             capture_output=True, text=True, timeout=240, cwd=tmp_path)
    report = run.stdout + run.stderr
    assert run.returncode == 0, report
    # Every operation of the document was tested: the 4 service routes, /predict, /invocations, the 9 Open
    # Inference Protocol routes and the 2 webhooks; each generated case passed.
    assert re.search(r"Selected: 17/17\s+Tested: 17", report), report
    generated, passed = map(int, re.search(r"(\d+) generated, (\d+) passed", report).groups())
    assert generated == passed > 500, report
