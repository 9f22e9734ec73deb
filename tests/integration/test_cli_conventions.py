"""The `driftline` command behaves as users of command-line tools expect: a server that is down is one line naming it
within 5 s and exit 1; usage errors exit 2; --version; --json a script can read; settings from `.env`."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from importlib.metadata import version
from pathlib import Path

import asyncpg
import pytest

from infra.processes import free_port
from schemas.streams import AUDIT
from tests.integration.audit_helpers import incident, project_all

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
DEADLINE_S = 5.0


def driftline(*args: str, env: dict[str, str] | None = None, cwd: Path = ROOT, timeout: float = 120,
              stdin: str = "") -> tuple[subprocess.CompletedProcess, float]:
    """Run the command as a person would, with no DRIFTLINE_* or MLFLOW_* variable but those given."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DRIFTLINE_", "MLFLOW_"))}
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "driftline", *args], cwd=cwd, capture_output=True, text=True,
                          env={**clean, "PYTHONPATH": str(ROOT), **(env or {})}, timeout=timeout, input=stdin)
    return done, time.monotonic() - start


class SilentServer:
    """A TCP port that accepts connections and never says a word (a hung or firewalled server)."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                self.held.append(self.sock.accept()[0])
            except OSError:
                return

    def close(self):
        self.sock.close()
        for conn in self.held:
            conn.close()


@pytest.fixture(scope="module")
def silent():
    server = SilentServer()
    yield server
    server.close()


@pytest.fixture(scope="module")
def csv_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("csv") / "rows.csv"
    path.write_text("mean radius,mean texture\n14.1,19.3\n")
    return path


NATS_COMMANDS = [["publish", "--csv", "{csv}"], ["simulate", "--rows", "5"], ["audit", "verify"],
                 ["audit", "replay"], ["audit", "rebuild"], ["report", "drift"]]
POSTGRES_COMMANDS = [["approvals", "list"], ["approvals", "approve", "ap-1", "--as", "bob", "--password-stdin"],
                     ["approvals", "reject", "ap-1", "--as", "bob", "--password-stdin"], ["users", "add", "bob"]]


def _down(kind: str, port: int) -> dict[str, str]:
    return {"nats": {"DRIFTLINE_NATS_URL": f"nats://127.0.0.1:{port}"},
            "postgres": {"DRIFTLINE_DATABASE_URL": f"postgresql://postgres:hunter2@127.0.0.1:{port}/driftline"},
            "mlflow": {"MLFLOW_TRACKING_URI": f"http://127.0.0.1:{port}"}}[kind]


def _fails_fast_naming(done: subprocess.CompletedProcess, seconds: float, server: str, port: int) -> None:
    assert done.returncode == 1, done.stdout + done.stderr
    assert seconds < DEADLINE_S, f"took {seconds:.1f} s"
    [line] = [x for x in done.stderr.splitlines() if x.strip()]  # one line, no traceback
    assert line.startswith(f"error: cannot reach {server} at ") and f"127.0.0.1:{port}" in line, line
    assert "hunter2" not in line  # a password in the URL is not printed


@pytest.mark.parametrize("args", NATS_COMMANDS, ids=" ".join)
def test_a_command_with_nats_down_fails_within_5s_naming_it(args, csv_file, tmp_path):
    port = free_port()
    done, seconds = driftline(*[a.format(csv=csv_file) for a in args], "--data-dir", str(tmp_path),
                              env=_down("nats", port) | _down("postgres", free_port()))
    _fails_fast_naming(done, seconds, "NATS", port)


@pytest.mark.parametrize("args", POSTGRES_COMMANDS, ids=" ".join)
def test_a_command_with_postgres_down_fails_within_5s_naming_it(args, tmp_path):
    port = free_port()
    done, seconds = driftline(*args, "--data-dir", str(tmp_path), env=_down("postgres", port),
                              stdin="a-long-enough-password\n")
    _fails_fast_naming(done, seconds, "PostgreSQL", port)


def test_train_with_its_mlflow_server_down_fails_within_5s_naming_it(tmp_path):
    port = free_port()
    done, seconds = driftline("train", "--data-dir", str(tmp_path), env=_down("mlflow", port))
    _fails_fast_naming(done, seconds, "MLflow", port)


@pytest.mark.parametrize("kind, args", [("nats", ["publish", "--csv", "{csv}"]), ("postgres", ["users", "add", "bob"]),
                                        ("mlflow", ["train"])], ids=lambda v: v if isinstance(v, str) else "")
def test_a_server_that_accepts_but_never_answers_is_given_up_within_5s(kind, args, silent, csv_file, tmp_path):
    done, seconds = driftline(*[a.format(csv=csv_file) for a in args], "--data-dir", str(tmp_path),
                              env=_down(kind, silent.port))
    _fails_fast_naming(done, seconds, {"nats": "NATS", "postgres": "PostgreSQL", "mlflow": "MLflow"}[kind],
                       silent.port)


def test_version():
    done, _ = driftline("--version")
    assert done.returncode == 0 and done.stdout.strip() == f"driftline {version('driftline')}"


@pytest.mark.parametrize("args, says", [
    (["report", "weekly"], "unknown report kind 'weekly'"),
    (["publish", "--csv", "no-such.csv"], "no such CSV file"),
    (["publish", "--csv", "{csv}", "--rate", "0"], "--rate must be positive"),
    (["simulate", "--rows", "0"], "--rows and --rate must be positive"),
    (["serve", "everything"], "unknown service 'everything'"),
    (["audit", "replay", "--since", "yesterday"], "--since must be an ISO time"),
    (["users", "add", "bob", "--role", "owner"], "role must be one of"),
    (["audit", "verify", "--no-such-flag"], "No such option"),  # click's own usage error
    (["approvals", "approve", "ap-1"], "Missing option '--as'"),
    (["approvals", "approve", "ap-1", "--as", "bob"], "a decision needs your password"),  # no terminal to ask on
], ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_usage_errors_exit_2(args, says, csv_file, tmp_path, database_url):
    done, _ = driftline(*[a.format(csv=csv_file) for a in args], env={"DRIFTLINE_DATABASE_URL": database_url,
                                                                       "DRIFTLINE_DATA_DIR": str(tmp_path)})
    assert done.returncode == 2, done.stdout + done.stderr
    assert says in done.stderr and "Traceback" not in done.stderr


def test_a_bad_setting_is_one_line_naming_the_variable_and_exit_2(tmp_path):
    done, _ = driftline("approvals", "list", env={"DRIFTLINE_BACKOFF_S": "[0.5,", "DRIFTLINE_DATA_DIR": str(tmp_path)})
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("error: bad setting: DRIFTLINE_BACKOFF_S:"), line


def test_a_malformed_schema_file_is_one_line_not_a_traceback(tmp_path):
    bad = tmp_path / "contract.schema.yaml"
    bad.write_text("target: label\ncolumns: [unclosed\n")
    done, _ = driftline("train", "--schema", str(bad), "--data-dir", str(tmp_path / "data"))
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(f"error: schema file {bad} is not valid YAML") and "Traceback" not in line


async def test_a_database_error_in_users_add_is_one_line(database_url, tmp_path):
    conn = await asyncpg.connect(database_url)
    try:  # the database refuses every new user: a constraint the insert breaks
        await conn.execute("ALTER TABLE users ADD CONSTRAINT closed_for_now CHECK (false) NOT VALID")
    finally:
        await conn.close()
    done, _ = driftline("users", "add", "carol", "--data-dir", str(tmp_path), env={"DRIFTLINE_DATABASE_URL": database_url})
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("error: PostgreSQL did not add 'carol' (CheckViolationError: ") and "closed_for_now" in line


async def test_dotenv_settings_and_json_documents(bus, database_url, tmp_path, settings):
    """Settings from a .env file in the current folder; `audit verify --json` and `approvals list --json` are one
    JSON document each on stdout."""
    from infra.db import connect_pool

    await bus.publish_many(incident(n_alerts=2))
    pool = await connect_pool(database_url, max_size=2)
    try:
        await project_all(bus, pool, every=4, settings=settings)
    finally:
        await pool.close()
    (tmp_path / ".env").write_text(f"# read by pydantic-settings\nDRIFTLINE_NATS_URL={settings.nats_url}\n"
                                   f"DRIFTLINE_DATABASE_URL={database_url}\nDRIFTLINE_BACKOFF_S=0.1,0.2\n"
                                   f"DRIFTLINE_DATA_DIR={settings.data_dir}\n")
    done, _ = driftline("audit", "verify", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    verdict = json.loads(done.stdout)
    stored = (await bus.js.stream_info(AUDIT.name)).state.last_seq  # 6 events and a checkpoint after the 4th
    assert verdict["ok"] is True and verdict["checked"] == stored == 7 and verdict["checkpoints"] == 1
    assert verdict["anchored"] == 1 and verdict["rejected_checkpoints"] == []
    assert verdict["bad_sequence"] is None and len(verdict["head_hash"]) == 64

    done, _ = driftline("approvals", "list", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    listed = json.loads(done.stdout)
    assert listed["pending"] == [] and listed["agent_proposals"]["proposed"] >= 0

    (tmp_path / ".env").write_text(f"DRIFTLINE_NATS_URL=nats://127.0.0.1:{free_port()}\n")  # .env really is read
    done, _ = driftline("audit", "verify", "--json", cwd=tmp_path, env={"DRIFTLINE_DATABASE_URL": database_url})
    assert done.returncode == 1 and "cannot reach NATS" in done.stderr and done.stdout == ""
