"""The bus map against the server: every service run by `driftline serve`, then the consumers JetStream holds are
compared with driftline/bus_map.py subject by subject. A consumer a service creates that the map lacks, or one the
map shows that no service creates, fails here."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from driftline.bus_map import subscriptions
from driftline.services import SERVICES
from infra.champion import SUBJECT as CHAMPION_SUBJECT
from infra.processes import free_port
from infra.runtime_config import SUBJECT as CONFIG_SUBJECT
from schemas.streams import ALL_STREAMS
from tests.faults.services import ServiceProcess, service_env
from tests.model_fixtures import register_simple_model

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


async def server_consumers(bus) -> tuple[set[tuple[str, str, frozenset[str]]], Counter]:
    """(stream, durable, filter subjects) of every durable consumer, and any unnamed (push) one counted by filter."""
    durables, ordered = set(), Counter()
    for stream in ALL_STREAMS:
        for info in await bus.js.consumers_info(stream.name):
            config = info.config
            filters = frozenset(config.filter_subjects or [config.filter_subject or ">"])
            if config.durable_name:
                durables.add((stream.name, config.durable_name, filters))
            elif config.deliver_subject:  # a push consumer: the per-process ordered ones
                ordered[(stream.name, filters)] += 1
    return durables, ordered


async def test_the_consumers_on_the_server_are_the_map(tmp_path, settings, bus, database_url):
    settings = settings.model_copy(update={"database_url": database_url})
    await asyncio.to_thread(register_simple_model, settings)
    ports = {f"DRIFTLINE_{name}": str(free_port()) for name in (
        "GATEWAY_PORT", "UI_PORT", "MONITOR_METRICS_PORT", "WORKER_METRICS_PORT", "AGENT_METRICS_PORT",
        "PROJECTOR_METRICS_PORT", "NOTIFIER_METRICS_PORT")}
    env = service_env(settings, database_url, **ports)
    procs = [ServiceProcess(name, env, tmp_path) for name in SERVICES]
    mapped = subscriptions(settings)
    want_durables = {(s.stream, s.durable, frozenset(s.subjects)) for s in mapped if s.durable}
    # The followers (champion, runtime config) are plain subscriptions in every process: nothing on the server, and
    # no service may make an unnamed consumer at all (its credential has no right to).
    followers = Counter(s.subjects for s in mapped if not s.durable)
    assert followers[(CHAMPION_SUBJECT,)] == followers[(CONFIG_SUBJECT,)] == 3  # gateway, worker, monitor
    for proc in procs:
        proc.start()
    try:
        durables, ordered = set(), Counter()
        async with asyncio.timeout(240):
            while not durables >= want_durables:
                dead = [p.name for p in procs if not p.alive()]
                assert not dead, f"{dead} exited:\n" + "\n".join(p.log_tail() for p in procs if not p.alive())
                await asyncio.sleep(1)
                durables, ordered = await server_consumers(bus)
        await asyncio.sleep(2)  # anything created a moment later counts too
        durables, ordered = await server_consumers(bus)
    finally:
        for proc in procs:
            proc.stop()
    assert durables == want_durables
    assert not ordered, f"unnamed consumers on the server: {dict(ordered)}"
