"""The one settings object: every DRIFTLINE_* variable is read here, once, at the edge.

Where a setting comes from, first match wins: a command-line flag; the environment; a `.env` file in the current
folder (same names, `DRIFTLINE_X=value` lines); the default below. Tools' standard names are read as fallbacks:
`MLFLOW_TRACKING_URI` when `DRIFTLINE_MLFLOW_TRACKING_URI` is unset.

List settings have one format, JSON (`DRIFTLINE_EMAIL_TO='["a@example.com", "b@example.com"]'`); a plain
comma-separated list (`a@example.com,b@example.com`) is read too, since it is unambiguous for lists of plain values
(use JSON when a value itself holds a comma). `DRIFTLINE_NOTIFY_ROUTES` (an object) is JSON only.
`DRIFTLINE_NATS_URL` takes several servers of a cluster either way (`nats://a:4222,nats://b:4222`, NATS's own
convention, or a JSON list).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def shown_url(url: str) -> str:
    """A server URL (or several, comma-separated) without passwords, fit for an error line or a log."""
    def one(text: str) -> str:
        parts = urlsplit(text.strip())
        if not parts.password:
            return text.strip()
        host = f"{parts.hostname}:{parts.port}" if parts.port else (parts.hostname or "")
        return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))

    return ",".join(one(u) for u in url.split(","))


def list_setting(value: Any) -> Any:
    """A list setting from text: a JSON list, or comma-separated plain values."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith("["):
        return json.loads(text)  # a JSONDecodeError is a ValueError: the error names the setting
    return [part.strip() for part in text.split(",") if part.strip()]


class Settings(BaseSettings):
    """Driftline's configuration; each field can be set as DRIFTLINE_<NAME>, in the environment or in `.env`."""

    model_config = SettingsConfigDict(env_prefix="DRIFTLINE_", env_file=".env", env_file_encoding="utf-8",
                                      extra="ignore", validate_by_name=True)

    data_dir: Path = Field(Path(".driftline"), description="JetStream store, PostgreSQL data, MLflow store, reports.")

    # Bus
    nats_url: str | None = Field(None, description="NATS server URL; unset means an embedded nats-server.")
    nats_host: str = Field("127.0.0.1", description="Embedded nats-server bind address.")
    nats_port: int = Field(4222, description="Embedded nats-server port.")
    nats_sync_interval: str = Field("always", description="JetStream fsync interval of the embedded server.")
    nats_credential: Path | None = Field(
        None, description="NATS nkey seed file this process signs in with (a deployment gives each container its "
                          "own); unset: data_dir/auth/<identity>.nk, written by `driftline up` or `driftline auth init`."
    )
    stream_replicas: int = Field(1, description="Replicas of each stream (3 on a cluster).")
    predictions_max_age_s: float = Field(7 * 24 * 3600, description="How long REQUESTS and PREDICTIONS keep messages.")
    predictions_max_bytes: int = Field(2 * 1024**3, description="Size bound of each of REQUESTS and PREDICTIONS.")
    dlq_max_age_s: float = Field(30 * 24 * 3600, description="How long the DLQ keeps poison messages.")
    duplicate_window_s: float = Field(120, description="JetStream window in which a repeated Nats-Msg-Id is dropped.")

    # Consumers
    max_deliver: int = Field(5, description="Deliveries of one message before it is dead-lettered.")
    ack_wait_s: float = Field(30, description="Seconds before an unacknowledged message is redelivered.")
    backoff_s: Annotated[list[float], NoDecode] = Field(
        [0.5, 2, 5, 15], description="Redelivery delays after a failure."
    )

    # PostgreSQL
    database_url: str | None = Field(None, description="PostgreSQL DSN; unset means an embedded server.")
    postgres_port: int = Field(54329, description="Embedded PostgreSQL port.")

    # MLflow
    mlflow_tracking_uri: str | None = Field(
        None, validation_alias=AliasChoices("DRIFTLINE_MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_URI"),
        description="MLflow tracking URI (MLFLOW_TRACKING_URI is read when this is unset); unset: SQLite in data_dir.",
    )
    model_name: str = Field("driftline-classifier", description="Registered model name.")
    mlflow_ui_port: int = Field(5000, description="Port of the MLflow UI started by `driftline up`.")
    mlflow_ui: Literal["lazy", "on", "off"] = Field(
        "lazy", description="The MLflow UI under `driftline up`: lazy (it starts on the first visit to its port: "
                            "about 250 MB resident, only once someone uses it), on (at start) or off.")

    # Trainer (issue 3)
    training_experiment: str = Field("driftline-training", description="MLflow experiment of training runs.")
    selection_metric: str = Field("f1", description="Held-out metric that picks the best candidate and decides promotion.")
    tiebreak_metric: str = Field("roc_auc", description="Metric that breaks a tie on the selection metric.")
    promotion_margin: float = Field(
        0.005, description="How much a challenger must beat the champion by (selection metric, same hold-out data)."
    )
    split_seed: int = Field(42, description="Seed of the stratified train/hold-out split.")
    holdout_fraction: float = Field(0.25, description="Share of rows held out for evaluation and promotion.")
    train_processes: int = Field(
        0, description="Processes that fit candidates in parallel; 0: one per core from 5000 rows, in-process below."
    )
    validation_min_rows: int = Field(50, description="Fewest rows an inferred schema accepts.")
    validation_null_tolerance: float = Field(
        0.05, description="Null rate an inferred schema allows above the reference's own, per column."
    )
    validation_range_margin: float = Field(
        0.25, description="Inferred ranges are the reference min/max widened by this share of the span."
    )
    validation_min_class_share: float = Field(0.05, description="Smallest share of rows any target class may have.")
    validation_max_null_share: float = Field(
        0.5, description="Largest null share an inferred schema gives a column; an emptier column is refused until its "
                         "schema entry allows it (max_null_rate, or nullable: true)."
    )
    validation_max_categories: int = Field(
        100, description="Most distinct values an inferred categorical may have; more is flagged (raise max_categories "
                         "in the schema, or remove the column from it to train without it)."
    )
    train_backend: Literal["local", "dask"] = Field(
        "local", description="Where training runs: local (this process and its pool) or dask (a Dask cluster)."
    )
    dask_scheduler: str | None = Field(
        None, description="Dask scheduler address (tcp://HOST:8786) for backend dask; unset: a LocalCluster on "
                          "127.0.0.1 for the run. Workers must read the data set's path."
    )
    dask_workers: int = Field(2, description="Workers (one thread each) of the LocalCluster started when no scheduler is set.")
    dask_blocksize: str = Field("32MB", description="Bytes of CSV per Dask partition.")
    dask_sample_rows: int = Field(
        200_000, description="Rows the trainer itself holds with backend dask: the hold-out sample every candidate and "
                             "the champion are scored on, the reference profile, the preprocessing fit, and the "
                             "training rows of families without a distributed form."
    )
    dask_undistributed: Literal["sample", "skip"] = Field(
        "sample", description="Backend dask, for logistic_regression and random_forest (no distributed form): "
                              "sample trains them on dask_sample_rows rows; skip leaves them out."
    )

    # HTTP
    gateway_host: str = Field("127.0.0.1", description="Gateway bind address.")
    gateway_port: int = Field(8000, description="Gateway port.")
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(
        [], description="Gateway API keys (list); empty means no key is needed."
    )
    ui_host: str = Field("127.0.0.1", description="Approval page bind address.")
    ui_port: int = Field(8080, description="Approval page port.")

    # Inference (gateway, worker, model reload)
    gateway_max_body_bytes: int = Field(1024**2, description="Largest /predict body accepted; larger gets 413.")
    gateway_max_records: int = Field(1000, description="Most records in one /predict batch.")
    gateway_batch_max: int = Field(256, description="Most records the gateway coalesces into one model call.")
    gateway_batch_wait_s: float = Field(0.0, description="Extra wait for more requests before a model call.")
    gateway_event_buffer: int = Field(50_000, description="Prediction events held while the bus is slow or down.")
    worker_batch: int = Field(500, description="Most requests the worker pulls and predicts in one call.")
    worker_batch_wait_s: float = Field(0.002, description="After a first request, how long the worker waits for more to batch.")
    worker_concurrency: int = Field(3, description="Pull loops per worker process sharing the durable consumer.")
    model_poll_s: float = Field(30.0, description="Seconds between checks of the champion alias (safety net).")
    shadow_enabled: bool = Field(True, description="Score every challenger (aliases challenger and challenger-*) "
                                                   "off the response path and publish prediction.shadowed.")
    shadow_queue: int = Field(10_000, ge=1, description="Records waiting for the shadow; more are dropped (counted in "
                                                         "driftline_shadow_dropped_total), never waited for.")
    shadow_cpu_share: float = Field(0.25, gt=0, le=1, description="Share of one core the shadow may spend scoring: "
                                                                 "after a call of t seconds it rests t (1/share - 1).")
    shadow_poll_s: float = Field(10.0, gt=0, description="Seconds between checks of the challenger aliases.")
    shadow_alpha: float = Field(0.05, gt=0, lt=0.5, description="The shadow test's bound on a wrong promotion.")
    shadow_max_pairs: int = Field(5000, ge=1, description="Labelled pairs after which a shadow test that has not "
                                                          "decided says inconclusive (the champion stays).")

    # Reports and notifications (issue 8)
    reports_auto: bool = Field(True, description="Build reports on promotion, on an alert and when an incident closes.")
    reports_log_mlflow: bool = Field(True, description="Log each automatic report to MLflow as an artifact.")
    public_ui_url: str | None = Field(None, description="Approval page URL in messages; unset means http://ui_host:ui_port.")
    notify_routes: dict[str, list[str]] = Field(
        {"low": ["slack"], "medium": ["slack", "email"], "high": ["slack", "email"], "critical": ["slack", "email"]},
        description="Channels (email, slack) per severity (JSON object).",
    )
    notify_group_routes: dict[str, list[str]] = Field(
        {"promotion": ["email", "slack"]},
        description="Channels per event group, over the severity routes (JSON object): by default a promotion goes "
                    "by email too, with its deployment report attached.",
    )
    notify_events: Annotated[list[str], NoDecode] = Field(
        ["alert", "incident", "escalation", "approval", "promotion", "action"],
        description="Event groups the notifier routes: alert (the monitor's), incident (the agent's send_alert), "
                    "escalation, approval, promotion, action.",
    )
    notify_retries: int = Field(3, description="Attempts per notification before the failure is recorded.")
    notify_backoff_s: Annotated[list[float], NoDecode] = Field(
        [0.5, 2.0], description="Delays between notification attempts."
    )
    smtp_host: str | None = Field(None, description="SMTP server; unset disables email.")
    smtp_port: int = Field(587, description="SMTP port.")
    smtp_security: str = Field("starttls", description="none, starttls or tls (implicit TLS, usually port 465).")
    smtp_username: str | None = Field(None, description="SMTP user name; unset means no authentication.")
    smtp_password: SecretStr | None = Field(None, description="SMTP password.")
    smtp_timeout_s: float = Field(10.0, description="Timeout of one SMTP conversation.")
    smtp_ca_file: Path | None = Field(None, description="CA bundle that signs the SMTP server's certificate; unset: system CAs.")
    email_from: str = Field("driftline@localhost", description="Sender address of notification mails.")
    email_to: Annotated[list[str], NoDecode] = Field([], description="Recipients of notification mails (list).")
    slack_webhook_url: str | None = Field(None, description="Slack incoming webhook URL; unset disables Slack.")
    webhook_secret: SecretStr | None = Field(
        None, description="Standard Webhooks signing secret (whsec_<base64> or raw) for our outgoing webhooks."
    )
    notifier_metrics_port: int | None = Field(None, description="Port of the notifier's /metrics; unset: none.")

    # Approval page and audit trail (issue 7)
    ui_secret_key: SecretStr | None = Field(
        None, description="Key that signs approval-page cookies; unset means a random key kept in data_dir/ui_secret."
    )
    approvals_signing_key: SecretStr | None = Field(
        None, description="Ed25519 private key (base64) that signs people's decisions (page, terminal); unset: "
                          "data_dir/keys/approvals.key, made once."
    )
    approvals_verify_key: str | None = Field(
        None, description="Its public key (base64), all the executor needs; unset: data_dir/keys/approvals.pub."
    )
    ui_session_hours: float = Field(12.0, description="How long an approval-page sign-in lasts.")
    sign_in_failures_per_user: int = Field(5, description="Failed sign-ins (page or terminal) per user in the window "
                                                          "before that user is throttled.")
    sign_in_failures_per_address: int = Field(20, description="Failed sign-ins per address in the window before "
                                                              "that address is throttled.")
    sign_in_window_minutes: float = Field(15.0, description="The window failed sign-ins are counted in.")
    one_time_password_hours: float = Field(24.0, description="How long a one-time password (users add/reset) lasts.")
    ui_secure_cookies: bool = Field(False, description="Mark cookies Secure (set it when the page is served over HTTPS).")
    ui_live_poll_s: float = Field(1.0, description="Longest wait between live pending-count checks of the page.")
    audit_durable: str = Field("audit-projector", description="Durable consumer name of the audit projector.")
    audit_checkpoint_every: int = Field(1000, description="The projector publishes a checkpoint every this many events.")
    audit_checkpoint_key: SecretStr | None = Field(
        None, description="Ed25519 private key (base64) the audit projector alone signs checkpoints with; unset: "
                          "data_dir/keys/audit-checkpoint.key, made once."
    )
    audit_verify_keys: Annotated[list[str], NoDecode] = Field(
        [], description="Public keys (base64, list) `audit verify` accepts checkpoints from, current and retired; "
                        "empty: data_dir/keys/audit-checkpoint.pub and data_dir/keys/audit-checkpoint.retired/*.pub."
    )
    audit_anchor_dir: Path | None = Field(
        None, description="Where every signed checkpoint head is also written, once, outside NATS and PostgreSQL "
                          "(write-once storage: a bucket with retention, a WORM volume); unset: data_dir/audit-anchor."
    )

    # Agent (issue 6): diagnoser, approval gate, executor
    agent_policy_file: Path | None = Field(None, description="Policy YAML of the agent; unset means the shipped defaults.")
    agent_recommend_only: bool = Field(
        False, description="Diagnose and propose only: every action, automatic ones too, waits for a person."
    )
    agent_expiry_interval_s: float = Field(15.0, description="Seconds between checks for expired approval requests.")

    # Monitoring (issue 5): drift and quality monitor, webhooks in
    monitor_metrics_port: int = Field(9102, description="Port of the monitor's Prometheus /metrics.")
    monitor_metrics_host: str = Field("127.0.0.1", description="Bind address of the monitor's /metrics.")
    monitor_window_events: int = Field(1000, description="Predictions per drift-report window.")
    monitor_window_s: float = Field(300.0, description="A window also closes when an event arrives this long after it opened.")
    monitor_idle_close_s: float = Field(30.0, description="A non-empty window nobody adds to closes after this long.")
    monitor_false_alarms_per_10k: float = Field(
        0.1, description="Target false alarms per 10,000 events over all drift tests of a model (sets the thresholds)."
    )
    monitor_clear_windows: int = Field(3, description="Quiet windows after which an open drift alert clears.")
    monitor_batch: int = Field(250, description="Most events the monitor pulls and scores in one vectorised step.")
    monitor_detector: Literal["cusum", "adwin", "kswin", "page_hinkley"] = Field(
        "cusum", description="Per-feature drift detectors: cusum (calibrated to monitor_false_alarms_per_10k) or "
        "River's adwin, kswin, page_hinkley (River's defaults; ~1 ms per feature and event for kswin).",
    )
    monitor_evidently_reports: bool = Field(True, description="Save an Evidently HTML report for each drift alert.")
    monitor_estimated_drop: float = Field(
        0.03, gt=0, description="Estimated F1 (accuracy for more than two classes) this far below its estimate on the "
                                "reference hold-out raises an estimated_quality alert, before any label arrives.")
    monitor_estimate_min_labels: int = Field(
        50, ge=1, description="Labelled rows a window needs before the estimate is checked against them.")
    alertmanager_token: SecretStr | None = Field(
        None, description="Bearer token Alertmanager sends to /webhooks/alertmanager; unset refuses every call."
    )
    evidently_webhook_secret: SecretStr | None = Field(
        None, description="HMAC-SHA256 secret (whsec_<base64> or raw) of /webhooks/evidently; unset refuses every call."
    )
    webhook_tolerance_s: float = Field(300.0, description="Largest clock skew a signed webhook may have.")
    webhook_max_body_bytes: int = Field(1024**2, description="Largest webhook body read; a larger one gets 413 before "
                                                             "more than this is read.")

    # Metrics of services that have no HTTP port of their own (the gateway serves /metrics itself).
    metrics_host: str = Field("127.0.0.1", description="Bind address of the /metrics endpoints of services.")
    worker_metrics_port: int | None = Field(9101, description="Inference worker /metrics port; unset: none.")
    agent_metrics_port: int | None = Field(9104, description="Agent /metrics port; unset: none.")
    projector_metrics_port: int | None = Field(9105, description="Audit projector /metrics port; unset: none.")

    supervisor: Literal["up", "none"] = Field(
        "none", description="Who runs the services: `up` when `driftline up` supervises them (it sets this for its "
                            "children; scale_service then applies), none under compose, Render or by hand."
    )

    # Prometheus and Alertmanager started by `driftline up` (when their binaries are installed)
    local_monitoring: bool = Field(True, description="`driftline up` starts Prometheus and Alertmanager when installed.")
    prometheus_port: int = Field(9090, description="Port of the Prometheus `driftline up` starts.")
    alertmanager_port: int = Field(9093, description="Port of the Alertmanager `driftline up` starts.")
    prometheus_scrape_interval_s: float = Field(15.0, description="Scrape and rule evaluation interval of that "
                                                                  "Prometheus.")
    log_json: bool = Field(False, description="Log JSON lines instead of human-readable lines.")
    log_level: str = Field("INFO", description="Log level.")

    @field_validator("backoff_s", "api_keys", "notify_events", "notify_backoff_s", "email_to", "audit_verify_keys",
                     mode="before")
    @classmethod
    def _lists(cls, value: Any) -> Any:
        return list_setting(value)

    @field_validator("nats_url", mode="before")
    @classmethod
    def _nats_servers(cls, value: Any) -> Any:
        """Several seed servers: comma-separated (as the NATS tools take them) or a JSON list."""
        if isinstance(value, str) and value.strip().startswith("["):
            value = json.loads(value)
        return ",".join(value) if isinstance(value, list) else value

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
    def sign_in_limits(self):
        from infra.users import SignInLimits

        return SignInLimits(self.sign_in_failures_per_user, self.sign_in_failures_per_address,
                            self.sign_in_window_minutes, self.one_time_password_hours)

    @property
    def auth_dir(self) -> Path:
        return (self.data_dir / "auth").resolve()

    @property
    def keys_dir(self) -> Path:
        return (self.data_dir / "keys").resolve()

    @property
    def db_auth_dir(self) -> Path:
        """One DSN file per database role (`<role>.dsn`), written by `driftline up` or `driftline db roles --apply`."""
        return (self.data_dir / "auth" / "db").resolve()

    @property
    def anchor_dir(self) -> Path:
        return (self.audit_anchor_dir or self.data_dir / "audit-anchor").resolve()

    @property
    def reports_dir(self) -> Path:
        return (self.data_dir / "reports").resolve()
