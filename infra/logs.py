"""Structured logging: JSON lines for machines, or compact text for people, one setup for every service."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from urllib.parse import unquote, urlsplit

from pydantic import SecretStr

from infra import tracing

_STANDARD = set(vars(logging.makeLogRecord({})))
MASK = "***"


def secrets_of(settings) -> list[str]:
    """Every secret value a log line must never show: secret settings, webhook URLs, passwords inside URLs."""
    found = []
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        values = value if isinstance(value, list) else [value]
        found += [v.get_secret_value() for v in values if isinstance(v, SecretStr)]
    found += [u for u in (getattr(settings, "slack_webhook_url", None),) if u]
    urls = [getattr(settings, "database_url", None), getattr(settings, "nats_url", None)]
    auth_dir = getattr(settings, "db_auth_dir", None)  # the database roles' DSN files (infra.db_roles)
    if auth_dir is not None and auth_dir.is_dir():
        urls += [path.read_text().strip() for path in sorted(auth_dir.glob("*.dsn"))]
    for url in urls:
        password = urlsplit(url).password if url and "://" in url else None
        found += [password, unquote(password)] if password else []
    return sorted({s for s in found if s and len(s) >= 6}, key=len, reverse=True)


class Redacting(logging.Formatter):
    """Wraps a formatter: each secret value in the finished line (message, fields, traceback) becomes ***."""

    def __init__(self, inner: logging.Formatter, secrets: Iterable[str]):
        super().__init__()
        self.inner, self.secrets = inner, [s for s in secrets if s]

    def format(self, record: logging.LogRecord) -> str:
        return redact(self.inner.format(record), self.secrets)


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, MASK)
    return text


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        doc.update({k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")})
        doc.update(tracing.log_ids())  # tracing on: the line names the trace and span it was written in
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str)


def configure_logging(level: str = "INFO", json_lines: bool = False, service: str | None = None,
                      secrets: Iterable[str] = ()) -> None:
    """Configure the root logger once for this process; `secrets` never appear in a line it writes."""
    handler = logging.StreamHandler(sys.stderr)
    if json_lines:
        formatter: logging.Formatter = JsonFormatter()
    else:
        prefix = f"{service} " if service else ""
        formatter = logging.Formatter(f"%(asctime)s %(levelname)-7s {prefix}%(name)s: %(message)s", "%H:%M:%S")
    handler.setFormatter(Redacting(formatter, secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("nats", "asyncio", "urllib3", "alembic", "mlflow.store", "httpx", "matplotlib"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
