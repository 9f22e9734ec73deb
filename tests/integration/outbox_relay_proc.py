"""A relay process for the restart test: publishes the outbox slowly in small batches, so it can be killed mid-way.

Usage: python -m tests.integration.outbox_relay_proc NATS_URL DSN CREDENTIAL (a seed file)
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

from infra.bus import Bus
from infra.db import connect_pool
from infra.outbox import OutboxRelay


class SlowRelay(OutboxRelay):
    async def publish_pending(self, conn) -> int:
        sent = await super().publish_pending(conn)
        await asyncio.sleep(0.02)  # a window between batches for the test's SIGKILL
        return sent


async def main(url: str, dsn: str, credential: str) -> None:
    bus = await Bus.connect(url, name="outbox-relay-proc", credential=Path(credential))
    pool = await connect_pool(dsn, max_size=2, run_migrations=False)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("ready", flush=True)
    await SlowRelay(bus, pool, batch=50, poll_s=0.1).run(stop)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))
