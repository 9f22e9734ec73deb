"""Settings as users bring them: one list format (JSON, comma-separated read too), `.env`, MLflow's standard name."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from infra.settings import Settings, shown_url


@pytest.fixture
def env(monkeypatch, tmp_path):
    """A clean environment and an empty current folder (no stray .env)."""
    import os

    for name in list(os.environ):
        if name.startswith("DRIFTLINE_") or name == "MLFLOW_TRACKING_URI":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


@pytest.mark.parametrize("name, json_text, comma_text, expected", [
    ("DRIFTLINE_EMAIL_TO", '["a@example.com", "b@example.com"]', "a@example.com, b@example.com",
     ["a@example.com", "b@example.com"]),
    ("DRIFTLINE_BACKOFF_S", "[0.5, 2]", "0.5,2", [0.5, 2.0]),
    ("DRIFTLINE_NOTIFY_BACKOFF_S", "[1]", "1", [1.0]),
    ("DRIFTLINE_NOTIFY_EVENTS", '["alert", "action"]', "alert,action", ["alert", "action"]),
])
def test_list_settings_read_json_and_comma_separated_alike(env, name, json_text, comma_text, expected):
    field = name.removeprefix("DRIFTLINE_").lower()
    env.setenv(name, json_text)
    assert getattr(Settings(), field) == expected
    env.setenv(name, comma_text)
    assert getattr(Settings(), field) == expected


def test_api_keys_and_cluster_urls_either_way(env):
    env.setenv("DRIFTLINE_API_KEYS", "k1,k2")
    assert [k.get_secret_value() for k in Settings().api_keys] == ["k1", "k2"]
    env.setenv("DRIFTLINE_API_KEYS", '["with,comma"]')  # a value holding a comma needs JSON
    assert [k.get_secret_value() for k in Settings().api_keys] == ["with,comma"]
    env.setenv("DRIFTLINE_NATS_URL", '["nats://a:4222", "nats://b:4222"]')
    assert Settings().nats_url == "nats://a:4222,nats://b:4222"
    env.setenv("DRIFTLINE_NATS_URL", "nats://a:4222,nats://b:4222")
    assert Settings().nats_url == "nats://a:4222,nats://b:4222"


def test_malformed_json_names_the_setting(env):
    env.setenv("DRIFTLINE_BACKOFF_S", "[0.5,")
    with pytest.raises(ValidationError, match="backoff_s"):
        Settings()


def test_routes_stay_json(env):
    env.setenv("DRIFTLINE_NOTIFY_ROUTES", '{"low": ["slack"]}')
    assert Settings().notify_routes == {"low": ["slack"]}


def test_mlflow_tracking_uri_is_the_fallback_and_ours_wins(env):
    assert Settings().mlflow_tracking_uri is None
    env.setenv("MLFLOW_TRACKING_URI", "http://mlflow.example:5000")
    assert Settings().resolved_mlflow_uri == "http://mlflow.example:5000"
    env.setenv("DRIFTLINE_MLFLOW_TRACKING_URI", "http://ours.example:5000")
    assert Settings().resolved_mlflow_uri == "http://ours.example:5000"
    assert Settings(mlflow_tracking_uri="sqlite:///x.db").mlflow_tracking_uri == "sqlite:///x.db"  # a flag wins


def test_dotenv_in_the_current_folder_is_read_and_the_environment_wins(env, tmp_path):
    (tmp_path / ".env").write_text("DRIFTLINE_MODEL_NAME=from-dotenv\nDRIFTLINE_EMAIL_TO=a@x.org,b@x.org\n"
                                   "MLFLOW_TRACKING_URI=http://dotenv:5000\nOTHER_TOOL_SETTING=ignored\n")
    s = Settings()
    assert (s.model_name, s.email_to, s.mlflow_tracking_uri) == ("from-dotenv", ["a@x.org", "b@x.org"],
                                                                 "http://dotenv:5000")
    env.setenv("DRIFTLINE_MODEL_NAME", "from-env")
    assert Settings().model_name == "from-env"


def test_passwords_are_not_shown():
    assert shown_url("postgresql://app:s3cret@db:5432/driftline") == "postgresql://app:***@db:5432/driftline"
    assert shown_url("nats://a:4222,nats://u:p@b:4222") == "nats://a:4222,nats://u:***@b:4222"
