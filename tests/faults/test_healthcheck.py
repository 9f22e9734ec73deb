"""infra/healthcheck.py, the containers' health check: healthy with its servers up, unhealthy (exit 1) without."""

from __future__ import annotations

import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from infra.processes import free_port
from tests.faults.harness import ROOT

pytestmark = pytest.mark.integration


def check(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "infra.healthcheck", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)


def test_bus_and_database_checks_follow_the_servers(nats_server, database_url):
    env = {"PATH": "/usr/bin:/bin", "DRIFTLINE_NATS_URL": nats_server.url, "DRIFTLINE_DATABASE_URL": database_url,
           "DRIFTLINE_NATS_CREDENTIAL": str(nats_server.auth.seed_file("worker"))}  # the container's own
    assert check("bus+db", env=env).returncode == 0
    anonymous = check("bus", env={k: v for k, v in env.items() if k != "DRIFTLINE_NATS_CREDENTIAL"})
    assert anonymous.returncode == 1 and "unhealthy" in anonymous.stderr  # the server wants a credential
    broken_db = {**env, "DRIFTLINE_DATABASE_URL": f"postgresql://postgres@127.0.0.1:{free_port()}/x"}
    done = check("bus+db", env=broken_db)
    assert done.returncode == 1 and "unhealthy" in done.stderr
    assert check("bus", env=broken_db).returncode == 0  # the bus alone is fine
    nats_server.kill()
    done = check("bus", env=env)
    assert done.returncode == 1 and "unhealthy" in done.stderr


def test_http_check_wants_a_success():
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            self.send_response(200 if self.path == "/health" else 503)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        assert check("http", f"{base}/health").returncode == 0
        assert check("http", f"{base}/ready").returncode == 1
        assert check("http", f"http://127.0.0.1:{free_port()}/health").returncode == 1
        assert check("nonsense").returncode == 2
    finally:
        server.shutdown()
