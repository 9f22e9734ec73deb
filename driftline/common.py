"""Helpers every command shares: settings from flags, running a coroutine, failing with advice."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import NoReturn

import typer

from infra.logs import configure_logging, secrets_of
from infra.settings import Settings


def load_settings(data_dir: Path | None = None, **overrides) -> Settings:
    """Settings from DRIFTLINE_* variables, with command-line flags winning."""
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
    configure_logging(settings.log_level, settings.log_json, secrets=secrets_of(settings))
    return settings


def fail(message: str, code: int = 1) -> NoReturn:
    """Print an error that says what to do, and exit non-zero."""
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def not_built(command: str, issue: int) -> NoReturn:
    fail(f"`driftline {command}` is not built yet (tracked in issue #{issue}).", code=3)


def run(coro):
    return asyncio.run(coro)


async def database_dsn(settings: Settings) -> str:
    """The PostgreSQL DSN: the configured server, else the embedded one `driftline up` runs."""
    if settings.database_url:
        return settings.database_url
    return f"postgresql://postgres@127.0.0.1:{settings.postgres_port}/driftline"
