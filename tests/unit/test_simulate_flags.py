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


@pytest.mark.parametrize("command", [["simulate", "--rows", "5"], ["publish", "--csv", "{csv}"]])
def test_a_publish_nats_never_acknowledges_says_what_happened_and_what_to_do(command, tmp_path, monkeypatch):
    """JetStream's publish-ack timeout surfaces as asyncio's TimeoutError: one line, not a bare exception."""
    import driftline.cmd_produce as produce

    def saturated(coro):
        coro.close()
        raise TimeoutError

    monkeypatch.setattr(produce, "run", saturated)
    csv = tmp_path / "rows.csv"
    csv.write_text("x\n1\n")
    args = [a.replace("{csv}", str(csv)) for a in command]
    result = CliRunner().invoke(app, [*args, "--data-dir", str(tmp_path)])
    assert result.exit_code == 1, result.output
    assert "acknowledged no publish within its timeout" in result.output and "lower --rate" in result.output
    assert "Traceback" not in result.output
