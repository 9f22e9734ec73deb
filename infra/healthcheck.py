"""Container health checks (Docker HEALTHCHECK, compose, Render): exit 0 when healthy, 1 with a reason.

Usage: python -m infra.healthcheck http URL     -- the URL answers below 400 (gateway /health, ui /login)
       python -m infra.healthcheck bus           -- JetStream answers on DRIFTLINE_NATS_URL, signed in with
                                                    DRIFTLINE_NATS_CREDENTIAL (bus-only services)
       python -m infra.healthcheck bus+db        -- the above, and PostgreSQL on DRIFTLINE_DATABASE_URL answers
"""

from __future__ import annotations

import asyncio
import sys
import urllib.request

TIMEOUT_S = 3.0
# asyncpg, nats-py and the settings are imported by the checks that use them: `http` (the NATS nodes', MLflow's,
# the gateway's) then costs an interpreter start, not 1-2 s of imports that, with a dozen containers starting at
# once on 2 cores, ran past the 5 s health-check timeout in scripts/topology.sh's first run.


def check_http(url: str) -> None:
    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as reply:  # noqa: S310 (a URL we were given)
        if reply.status >= 400:
            raise RuntimeError(f"{url} answered {reply.status}")


async def check_bus(settings) -> None:
    import nats

    from infra.nats_auth import connect_options, credential_for

    async def quiet(exc: Exception) -> None:  # the failure is reported once, below, not as a traceback
        pass

    credential = credential_for(settings, None)  # the container's own (DRIFTLINE_NATS_CREDENTIAL)
    nc = await nats.connect(settings.resolved_nats_url, connect_timeout=TIMEOUT_S, allow_reconnect=False,
                            error_cb=quiet, **(connect_options(credential) if credential else {}))
    try:
        reply = await nc.request("$JS.API.INFO", b"", timeout=TIMEOUT_S)
        if b'"error"' in reply.data:
            raise RuntimeError(f"JetStream unavailable: {reply.data[:200]!r}")
    finally:
        await nc.close()


async def check_db(settings) -> None:
    import asyncpg

    if not settings.database_url:
        raise RuntimeError("DRIFTLINE_DATABASE_URL is not set")
    conn = await asyncpg.connect(settings.database_url, timeout=TIMEOUT_S)
    try:
        await conn.fetchval("SELECT 1")
    finally:
        await conn.close()


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        if argv[0] == "http":
            check_http(argv[1])
        elif argv[0] in ("bus", "bus+db"):
            from infra.settings import Settings

            settings = Settings()
            asyncio.run(asyncio.wait_for(check_bus(settings), TIMEOUT_S * 2))
            if argv[0] == "bus+db":
                asyncio.run(asyncio.wait_for(check_db(settings), TIMEOUT_S * 2))
        else:
            print(f"unknown check {argv[0]!r}\n{__doc__}", file=sys.stderr)
            return 2
    except Exception as exc:
        print(f"unhealthy: {exc!r}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
