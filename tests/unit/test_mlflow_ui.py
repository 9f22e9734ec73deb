"""The MLflow UI under `driftline up` runs MLflow's app directly: the settings it hands over keep MLflow's names."""

from driftline.mlflow_ui import command, environment
from infra.settings import Settings


def test_the_environment_uses_the_names_mlflow_server_hands_its_app(tmp_path):
    from mlflow.environment_variables import _MLFLOW_SGI_NAME, MLFLOW_SERVER_ENABLE_JOB_EXECUTION
    from mlflow.server import constants

    env = environment(Settings(data_dir=tmp_path))
    uri = Settings(data_dir=tmp_path).resolved_mlflow_uri
    assert env[constants.BACKEND_STORE_URI_ENV_VAR] == env[constants.REGISTRY_STORE_URI_ENV_VAR] == uri
    assert env[constants.ARTIFACTS_DESTINATION_ENV_VAR].startswith(str(tmp_path))
    assert env[constants.SERVE_ARTIFACTS_ENV_VAR] == "true" and env[constants.ARTIFACT_ROOT_ENV_VAR]
    assert env[_MLFLOW_SGI_NAME.name] == "uvicorn" and env[MLFLOW_SERVER_ENABLE_JOB_EXECUTION.name] == "false"


def test_one_process_on_the_given_port(tmp_path):
    cmd = command(Settings(data_dir=tmp_path), 5123)
    assert cmd[1:3] == ["-m", "uvicorn"] and "5123" in cmd and cmd[-1] == "mlflow.server.fastapi_app:app"
    assert "--workers" not in cmd  # uvicorn without --workers serves in its own process: no supervisor child
