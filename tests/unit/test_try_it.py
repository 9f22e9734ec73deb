"""The commands `driftline up` ends its banner with: pasted into a shell, they do what they say."""

from __future__ import annotations

import json
import shlex

from driftline.try_it import Example, commands

EXAMPLE = Example("3", {"mean radius": 17.99, "it's": 1.0, "kind": "a b"}, "worst radius")


def test_the_curl_sends_the_row_as_json_whatever_the_column_names():
    lines = commands(EXAMPLE, model="m", gateway="http://127.0.0.1:8000", page="http://127.0.0.1:8080",
                     data_dir_flag="", api_keys=False, one_time="pw-1")
    curl = shlex.split(lines[1])
    assert curl[:3] == ["curl", "-s", "http://127.0.0.1:8000/predict"]
    assert json.loads(curl[curl.index("-d") + 1]) == {"features": EXAMPLE.features}
    simulate = shlex.split(lines[3])
    assert simulate[:2] == ["driftline", "simulate"] and simulate[simulate.index("--shift") + 1] == "worst radius=2"
    assert "http://127.0.0.1:8080" in lines[4] and "pw-1" in lines[5] and "m v3" in lines[0]


def test_keys_and_data_dir_are_named_never_printed():
    lines = commands(EXAMPLE, model="m", gateway="http://g", page="http://p", data_dir_flag=" --data-dir /d",
                     api_keys=True, one_time=None)
    assert "X-API-Key: <one of DRIFTLINE_API_KEYS>" in lines[1]
    assert lines[3].endswith("--data-dir /d") and "users reset" in lines[5]
