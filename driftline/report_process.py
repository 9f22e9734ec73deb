"""Reports for the notifier, each built in a short-lived process (driftline/report_job.py), so the notifier's own
memory stays flat; the same calls as consumers/reports (ensure for a mail's attachment, publish for the automatic
reports), one build at a time per report."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from pathlib import Path

from pydantic import SecretStr

from consumers.reports.names import relative_path
from infra.settings import Settings

log = logging.getLogger(__name__)
TIMEOUT_S = 300.0  # importing WeasyPrint, matplotlib and MLflow, then rendering: ~10 s quiet, a minute when loaded


def settings_env(settings: Settings) -> dict[str, str]:
    """This process's environment with its settings written out, so the child builds with the same ones even when
    they were given in code, not in the environment (a test's settings, a flag)."""
    env = dict(os.environ)
    for name in settings.model_fields_set:
        value = getattr(settings, name)
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        elif isinstance(value, list | tuple | dict):
            value = json.dumps([v.get_secret_value() if isinstance(v, SecretStr) else str(v) for v in value]
                               if not isinstance(value, dict) else value, default=str)
        elif isinstance(value, bool):
            value = "true" if value else "false"
        env[f"DRIFTLINE_{name.upper()}"] = str(value)
    return env


class ReportProcess:
    def __init__(self, settings: Settings):
        self.settings = settings
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    def stored(self, kind: str, ident: str, not_before: float) -> Path | None:
        path = self.settings.reports_dir / relative_path(kind, ident)
        return path if path.exists() and path.stat().st_mtime >= not_before else None

    async def ensure(self, kind: str, ident: str, not_before: float = 0.0) -> Path:
        """The stored report, built (in its own process) unless one at least as new as `not_before` exists."""
        return await self._run(kind, ident, not_before, None)

    async def publish(self, kind: str, ident: str, not_before: float, version: str | None) -> Path:
        """Built and logged to MLflow (settings.reports_log_mlflow), for the automatic reports."""
        return await self._run(kind, ident, not_before, version or "-")

    async def _run(self, kind: str, ident: str, not_before: float, log_as: str | None) -> Path:
        async with self._locks.setdefault((kind, ident), asyncio.Lock()):
            if log_as is None and (found := self.stored(kind, ident, not_before)):
                return found
            args = [sys.executable, "-m", "driftline.report_job", kind, ident, "--not-before", str(not_before)]
            if log_as is not None:
                args += ["--log", log_as]
            proc = await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.PIPE,
                                                        stderr=asyncio.subprocess.PIPE, env=settings_env(self.settings))
            try:
                out, err = await asyncio.wait_for(proc.communicate(), TIMEOUT_S)
            except TimeoutError:
                proc.kill()
                await proc.wait()
                raise RuntimeError(f"{kind} report {ident}: not built within {TIMEOUT_S:.0f}s") from None
            except asyncio.CancelledError:  # the notifier stops: the build goes with it (it outlived `up` otherwise)
                proc.kill()
                await asyncio.shield(proc.wait())
                raise
            if proc.returncode != 0:
                tail = " | ".join(err.decode(errors="replace").strip().splitlines()[-3:])
                raise RuntimeError(f"{kind} report {ident} failed: {tail}")
            return Path(out.decode().strip().splitlines()[-1])
