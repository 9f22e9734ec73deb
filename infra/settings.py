"""The one settings object: every DRIFTLINE_* variable is read here, once, at the edge."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Driftline's configuration; each field can be set as DRIFTLINE_<NAME>."""

    model_config = SettingsConfigDict(env_prefix="DRIFTLINE_", extra="ignore")

    data_dir: Path = Field(Path(".driftline"), description="JetStream store, PostgreSQL data, MLflow store, reports.")

    # Bus
    nats_url: str | None = Field(None, description="NATS server URL; unset means an embedded nats-server.")
    nats_host: str = Field("127.0.0.1", description="Embedded nats-server bind address.")
    nats_port: int = Field(4222, description="Embedded nats-server port.")
    nats_sync_interval: str = Field("always", description="JetStream fsync interval of the embedded server.")
    stream_replicas: int = Field(1, description="Replicas of each stream (3 on a cluster).")
    predictions_max_age_s: float = Field(7 * 24 * 3600, description="How long PREDICTIONS keeps messages.")
    predictions_max_bytes: int = Field(2 * 1024**3, description="Size bound of the PREDICTIONS stream.")
    dlq_max_age_s: float = Field(30 * 24 * 3600, description="How long the DLQ keeps poison messages.")
    duplicate_window_s: float = Field(120, description="JetStream window in which a repeated Nats-Msg-Id is dropped.")

    # Consumers
    max_deliver: int = Field(5, description="Deliveries of one message before it is dead-lettered.")
    ack_wait_s: float = Field(30, description="Seconds before an unacknowledged message is redelivered.")
    backoff_s: list[float] = Field([0.5, 2, 5, 15], description="Redelivery delays after a failure.")

    # PostgreSQL
    database_url: str | None = Field(None, description="PostgreSQL DSN; unset means an embedded server.")
    postgres_port: int = Field(54329, description="Embedded PostgreSQL port.")

    # MLflow
    mlflow_tracking_uri: str | None = Field(None, description="MLflow tracking URI; unset means SQLite in data_dir.")
    model_name: str = Field("driftline-classifier", description="Registered model name.")
    mlflow_ui_port: int = Field(5000, description="Port of the MLflow UI started by `driftline up`.")

    # HTTP
    gateway_host: str = Field("127.0.0.1", description="Gateway bind address.")
    gateway_port: int = Field(8000, description="Gateway port.")
    api_keys: list[SecretStr] = Field([], description="Gateway API keys (JSON list); empty means no key is needed.")
    ui_host: str = Field("127.0.0.1", description="Approval page bind address.")
    ui_port: int = Field(8080, description="Approval page port.")

    log_json: bool = Field(False, description="Log JSON lines instead of human-readable lines.")
    log_level: str = Field("INFO", description="Log level.")

    @property
    def resolved_nats_url(self) -> str:
        return self.nats_url or f"nats://{self.nats_host}:{self.nats_port}"

    @property
    def resolved_mlflow_uri(self) -> str:
        if self.mlflow_tracking_uri:
            return self.mlflow_tracking_uri
        return f"sqlite:///{(self.data_dir / 'mlflow' / 'mlflow.db').resolve()}"

    @property
    def mlflow_artifacts_dir(self) -> Path:
        return (self.data_dir / "mlflow" / "artifacts").resolve()

    @property
    def nats_store_dir(self) -> Path:
        return (self.data_dir / "nats").resolve()

    @property
    def postgres_dir(self) -> Path:
        return (self.data_dir / "postgres").resolve()

    @property
    def reports_dir(self) -> Path:
        return (self.data_dir / "reports").resolve()
