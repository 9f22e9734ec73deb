"""`driftline simulate` refuses a wrong scenario option before it connects to anything, naming the option."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from driftline.cli import app


@pytest.mark.parametrize(("args", "said"), [
    (["--labels", "truth"], "--labels 'truth': choose data or ground-truth"),
    (["--source", "x.csv"], "--source 'x.csv': choose champion or builtin:breast_cancer"),
    (["--stuck", "mean radius=0"], "need --drift-at ROW"),
    (["--drift-at", "5", "--concept", "mean radius=1.5"], "--concept 'mean radius=1.5': TOP_SHARE"),
    (["--drift-at", "5", "--stuck", "mean radius"], "--stuck 'mean radius': expected FEATURE=VALUE"),
    (["--drift-at", "5", "--gradual", "-3", "--shift", "mean radius=1"], "--gradual -3"),
    (["--drift-at", "5", "--gradual", "100"], "--gradual ramps in a drift: give one too"),
])
def test_a_wrong_scenario_option_is_named(args, said, tmp_path):
    result = CliRunner().invoke(app, ["simulate", *args, "--data-dir", str(tmp_path)])
    assert result.exit_code == 2, result.output
    assert said in result.output


def test_help_explains_each_scenario_option():
    text = CliRunner().invoke(app, ["simulate", "--help"], terminal_width=200).output
    for option in ("--labels", "--concept", "--gradual", "--stuck", "--null", "--source"):
        assert option in text
    assert "fixed relation" in text and "top share" in text
