"""An executor process for the crash test: its change_config has its effect, then lingers so it can be killed
after the effect and before the action is recorded as completed.

Usage: python -m tests.integration.agent_executor_proc NATS_URL DSN DATA_DIR LINGER_SECONDS
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

from agent.actions import ACTIONS
from agent.actions.config import change_config
from agent.approvals.keys import decision_verifier
from agent.executor import Executor
from agent.policy import load_policy
from infra.bus import Bus
from infra.consumer import ConsumerRunner, ConsumerSpec
from infra.db import connect_pool
from infra.nats_auth import credential_for
from infra.settings import Settings
from schemas import ActionScheduled


async def main(url: str, dsn: str, data_dir: str, linger: str) -> None:
    settings = Settings(data_dir=Path(data_dir), nats_url=url, database_url=dsn)
    bus = await Bus.connect(url, credential=credential_for(settings, "agent"))  # as the agent runs it
    pool = await connect_pool(dsn, max_size=4)

    async def slow_change_config(ctx):
        result = await change_config(ctx)
        print("effect", flush=True)
        await asyncio.sleep(float(linger))  # e.g. measuring the after-metrics
        return result

    executor = Executor(bus, pool, settings, load_policy(), decision_verifier(settings),
                        actions={**ACTIONS, "change_config": slow_change_config},
                        heartbeat_s=0.5)
    spec = ConsumerSpec("agent-executor", "AUDIT", (ActionScheduled.topic,), batch=1, max_wait=0.2, ack_wait=2.0,
                        backoff=(0.2,))
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("ready", flush=True)
    await ConsumerRunner(bus, spec, executor.routes).run(stop)
    await pool.close()
    await bus.close()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
